/* clock.c (POSIX): the monotonic clock. */
#include <time.h>

#include "bodega/bd_progress.h"

uint64_t bd_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
