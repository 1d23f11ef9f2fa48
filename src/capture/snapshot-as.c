/*
 * The capture signal's handler (signal path of the Threads section).
 */
#include "config.h"
