/* clock.c (Windows): the monotonic clock. */
#include <windows.h>

#include "bodega/bd_progress.h"

uint64_t bd_now_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    /* Split to avoid overflowing 64 bits at high counter frequencies. */
    return (uint64_t)(now.QuadPart / freq.QuadPart) * 1000000000ULL
         + (uint64_t)(now.QuadPart % freq.QuadPart) * 1000000000ULL / (uint64_t)freq.QuadPart;
}
