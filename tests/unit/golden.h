/*
 * Golden files for the unit tests: expected output kept in tests/golden/.
 */
#ifndef GMR_TEST_GOLDEN_H
#define GMR_TEST_GOLDEN_H

/*
 * test_assert_golden() - fail the running cmocka test unless @text equals tests/golden/@name.
 * @text: the output under test
 * @name: a file name in $GMR_GOLDEN_DIR
 *
 * With GMR_UPDATE_GOLDEN=1 in the environment, the file is rewritten with @text first.
 */
void test_assert_golden(const char *text, const char *name);

#endif /* GMR_TEST_GOLDEN_H */
