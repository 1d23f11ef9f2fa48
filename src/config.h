/*
 * Internal build configuration; every .c file of the library includes it first.
 */
#ifndef GMR_CONFIG_H
#define GMR_CONFIG_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#endif /* GMR_CONFIG_H */
