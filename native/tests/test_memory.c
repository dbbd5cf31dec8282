/* test_memory.c: bd_memory.h's large-page hint keeps a buffer's bytes and, on Linux with
 * transparent huge pages, marks the buffer's mapping for them (VmFlags "hg" in smaps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_memory.h"
#include "test.h"

#ifdef __linux__
/* Whether the mapping holding p has the flag named (e.g. "hg") in /proc/self/smaps; -1 when
 * the mapping is not found. */
static int mapping_has_flag(const void *p, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int inside = 0, found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            char want[8];
            snprintf(want, sizeof want, " %s", flag);
            found = strstr(line, want) != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}

static int kernel_has_thp(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return 0;
    fclose(f);
    return 1;
}
#endif

TEST(memory_large_page_hint_keeps_the_bytes)
{
    size_t len = BD_MEMORY_LARGE_MIN * 3 + 12345;
    unsigned char *p = malloc(len);
    ASSERT(p != NULL);
    for (size_t i = 0; i < len; i += 4093)
        p[i] = (unsigned char)(i * 7);
    bd_memory_prefer_large_pages(p, len);
    int same = 1;
    for (size_t i = 0; i < len; i += 4093)
        same &= p[i] == (unsigned char)(i * 7);
    memset(p, 0xa5, len);  /* the whole buffer stays writable */
    same &= p[len - 1] == 0xa5;
#ifdef __linux__
    int marked = mapping_has_flag(p + len / 2, "hg");
#endif
    free(p);
    ASSERT(same);
#ifdef __linux__
    if (kernel_has_thp())
        ASSERT_INT(marked, ==, 1);
#endif
}

TEST(memory_large_page_hint_leaves_small_buffers_and_null_alone)
{
    bd_memory_prefer_large_pages(NULL, BD_MEMORY_LARGE_MIN * 2);  /* no crash */
#ifdef __linux__
    /* A block of its own mapping (malloc maps blocks this large apart) under the minimum. */
    size_t len = BD_MEMORY_LARGE_MIN - 4096;
    unsigned char *p = malloc(len);
    ASSERT(p != NULL);
    bd_memory_prefer_large_pages(p, len);
    int marked = mapping_has_flag(p + len / 2, "hg");
    free(p);
    ASSERT_INT(marked, ==, 0);
#endif
}
