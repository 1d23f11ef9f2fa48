/*
 * UTC calendar time without gmtime_r(): glibc's gmtime_r() and localtime_r() take the time
 * zone lock, which fork() does not reset in the child, so a fork child of a process whose
 * other thread was inside one of them hangs in its next call.  Reports name their time in
 * UTC only, which is arithmetic.
 */
#ifndef GMR_UTIL_UTC_H
#define GMR_UTIL_UTC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/*
 * gmr__utc_tm() - break @t (seconds since the Epoch) down into UTC, as gmtime_r() would
 * (proleptic Gregorian calendar; tm_isdst 0).
 * Return: false when the year does not fit in tm_year (as gmtime_r()'s EOVERFLOW).
 * Context: any; no lock, no allocation.
 */
static inline bool gmr__utc_tm(int64_t t, struct tm *tm)
{
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    /* Count from 0000-03-01, so that a leap day ends its 400-year era's years. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                       /* 0 .. 146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  /* 0 .. 399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                /* 0 .. 365, from March */
    int64_t mp = (5 * doy + 2) / 153;                                     /* 0 .. 11, March = 0 */
    int64_t mday = doy - (153 * mp + 2) / 5 + 1;
    int64_t mon = mp < 10 ? mp + 2 : mp - 10;                             /* 0 .. 11, January = 0 */
    int64_t year = yoe + era * 400 + (mon < 2);
    if (year - 1900 > INT32_MAX || year - 1900 < INT32_MIN)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    static const short before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

    memset(tm, 0, sizeof(*tm));
    tm->tm_sec = (int)(secs % 60);
    tm->tm_min = (int)(secs / 60 % 60);
    tm->tm_hour = (int)(secs / 3600);
    tm->tm_mday = (int)mday;
    tm->tm_mon = (int)mon;
    tm->tm_year = (int)(year - 1900);
    tm->tm_wday = (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    tm->tm_yday = before[mon] + (int)mday - 1 + (leap && mon >= 2);
    return true;
}

#endif /* GMR_UTIL_UTC_H */
