/* Functions of symbolize-helper.c; the test finds their lines by the markers in the source. */
#ifndef GMR_TEST_SYMBOLIZE_HELPER_H
#define GMR_TEST_SYMBOLIZE_HELPER_H

#include <stdint.h>

uint64_t helper_return_address(void);
uint64_t helper_caller(void);
uint64_t helper_with_inline(void);

#endif
