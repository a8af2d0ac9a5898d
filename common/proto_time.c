/*
 * common/proto_time.c - datetimes of the protocol and the timestamp ballpark
 * (see proto.h)
 */
#include "proto_internal.h"

#include <time.h>

/* ---- datetimes --------------------------------------------------------------------- */

#define US_PER_DAY INT64_C(86400000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm, valid far beyond years 1..9999). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

bool proto_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return false;
        v = v * 10 + (unsigned)(s[k] - '0');
    }
    *out = v;
    return true;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 29;
    return dim[m - 1];
}

bool proto_rfc3339_parse(const char *s, size_t len, bool canonical, int64_t *us)
{
    /* 0123456789012345678901234567
     * YYYY-MM-DDTHH:MM:SS.ffffffZ      (canonical: exactly this)
     * YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM), T and Z in either case */
    unsigned y, mo, d, h, mi, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
        return false;
    if (canonical ? s[10] != 'T' : (s[10] != 'T' && s[10] != 't'))
        return false;
    if (!proto_digits(s, 4, &y) || !proto_digits(s + 5, 2, &mo) || !proto_digits(s + 8, 2, &d) ||
        !proto_digits(s + 11, 2, &h) || !proto_digits(s + 14, 2, &mi) ||
        !proto_digits(s + 17, 2, &sec))
        return false;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return false;
    size_t p = 19;
    int64_t frac_us = 0;
    if (p < len && s[p] == '.') {
        size_t n = 0;
        p++;
        while (p + n < len && s[p + n] >= '0' && s[p + n] <= '9')
            n++;
        if (n < 1 || n > 9 || (canonical && n != 6))
            return false;
        /* nanoseconds past the microsecond are cut: the protocol and
         * PostgreSQL count in microseconds */
        for (size_t k = 0; k < 6; k++)
            frac_us = frac_us * 10 + (k < n ? s[p + k] - '0' : 0);
        p += n;
    } else if (canonical) {
        return false;
    }
    int64_t offset_s = 0;
    if (p < len && (s[p] == 'Z' || (!canonical && s[p] == 'z'))) {
        p++;
    } else if (!canonical && p < len && (s[p] == '+' || s[p] == '-')) {
        unsigned oh, om;
        if (len - p < 6 || !proto_digits(s + p + 1, 2, &oh) || s[p + 3] != ':' ||
            !proto_digits(s + p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_s = (s[p] == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
        p += 6;
    } else {
        return false;
    }
    if (p != len)
        return false;
    int64_t days = days_from_civil(y, mo, d);
    *us = days * US_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec - offset_s) * 1000000 + frac_us;
    return true;
}

bool proto_datetime_parse(const char *s, size_t len, int64_t *us)
{
    return proto_rfc3339_parse(s, len, true, us);
}

static void put_digits(char *out, unsigned v, int width)
{
    for (int k = width - 1; k >= 0; k--) {
        out[k] = (char)('0' + v % 10);
        v /= 10;
    }
}

void proto_datetime_format(int64_t us, char out[PROTO_DATETIME_LEN + 1])
{
    const int64_t lo = days_from_civil(1, 1, 1) * US_PER_DAY;
    const int64_t hi = days_from_civil(9999, 12, 31) * US_PER_DAY + US_PER_DAY - 1;
    if (us < lo)
        us = lo;
    if (us > hi)
        us = hi;
    int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int64_t secs = rem / 1000000;
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (unsigned)(secs / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (unsigned)(secs / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (unsigned)(secs % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (unsigned)(rem % 1000000), 6);
    out[26] = 'Z';
    out[27] = '\0';
}

int64_t proto_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool proto_ballpark_ok(int64_t server_now_us, int64_t client_us)
{
    int64_t diff;
    if (__builtin_sub_overflow(server_now_us, client_us, &diff))
        return false;
    return diff > -PROTO_BALLPARK_CLIENT_EARLY_OFFSET_US &&
           diff < PROTO_BALLPARK_CLIENT_LATE_OFFSET_US;
}
