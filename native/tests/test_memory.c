/* test_memory.c: bd_memory.h's large-page hint keeps a buffer's bytes and, on Linux with
 * transparent huge pages, marks the buffer's mapping for them (VmFlags "hg" in smaps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_memory.h"
#include "bodega/bd_thread.h"
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

/* ---- kept blocks ------------------------------------------------------------------- */

#define LARGE BD_MEMORY_LARGE_MIN

TEST(memory_a_large_block_freed_is_the_next_of_about_its_size)
{
    bd_memory_release_kept();
    unsigned char *a = bd_memory_alloc(3 * LARGE);
    ASSERT(a != NULL);
    memset(a, 0x5a, 3 * LARGE);
    bd_memory_free(a);
    size_t blocks, bytes;
    bd_memory_kept(&blocks, &bytes);
    ASSERT_INT(blocks, ==, 1);
    ASSERT_INT(bytes, ==, 3 * LARGE);
    unsigned char *b = bd_memory_alloc(2 * LARGE);  /* fits, wasting less than its own size */
    ASSERT(b == a);
    bd_memory_kept(&blocks, &bytes);
    ASSERT_INT(blocks, ==, 0);
    bd_memory_free(b);
    unsigned char *c = bd_memory_alloc(LARGE);  /* 3 LARGE would waste twice its size */
    ASSERT(c != a);
    bd_memory_free(c);
    bd_memory_release_kept();
    bd_memory_kept(&blocks, &bytes);
    ASSERT_INT(blocks, ==, 0);
    ASSERT_INT(bytes, ==, 0);
}

TEST(memory_small_blocks_are_not_kept)
{
    bd_memory_release_kept();
    void *p = bd_memory_alloc(LARGE - 1);
    ASSERT(p != NULL);
    bd_memory_free(p);
    size_t blocks;
    bd_memory_kept(&blocks, NULL);
    ASSERT_INT(blocks, ==, 0);
    bd_memory_free(NULL);  /* nothing */
}

TEST(memory_at_most_the_limits_are_kept_the_oldest_freed_first)
{
    bd_memory_release_kept();
    void *p[BD_MEMORY_KEPT_BLOCKS + 2];
    size_t n = sizeof p / sizeof p[0];
    for (size_t i = 0; i < n; i++)
        ASSERT((p[i] = bd_memory_alloc(LARGE + i)) != NULL);
    for (size_t i = 0; i < n; i++)
        bd_memory_free(p[i]);
    size_t blocks, bytes;
    bd_memory_kept(&blocks, &bytes);
    ASSERT_INT(blocks, ==, BD_MEMORY_KEPT_BLOCKS);
    size_t want = 0;
    for (size_t i = n - BD_MEMORY_KEPT_BLOCKS; i < n; i++)
        want += LARGE + i;
    ASSERT_INT(bytes, ==, want);
    /* a block that alone would pass the byte limit is freed, not kept */
    void *huge = bd_memory_alloc(BD_MEMORY_KEPT_BYTES + 1);
    ASSERT(huge != NULL);
    bd_memory_free(huge);
    bd_memory_kept(NULL, &bytes);
    ASSERT_INT(bytes, ==, want);
    /* blocks of the byte limit's size push the older ones out */
    void *half1 = bd_memory_alloc(BD_MEMORY_KEPT_BYTES / 2), *half2 = bd_memory_alloc(BD_MEMORY_KEPT_BYTES / 2);
    ASSERT(half1 != NULL && half2 != NULL);
    bd_memory_free(half1);
    bd_memory_free(half2);
    bd_memory_kept(&blocks, &bytes);
    ASSERT_INT(blocks, ==, 2);
    ASSERT_INT(bytes, ==, BD_MEMORY_KEPT_BYTES);
    bd_memory_release_kept();
}

TEST(memory_resize_keeps_the_bytes_and_never_shrinks_a_large_block)
{
    bd_memory_release_kept();
    unsigned char *p = bd_memory_resize(NULL, 100);
    ASSERT(p != NULL);
    for (int i = 0; i < 100; i++)
        p[i] = (unsigned char)i;
    p = bd_memory_resize(p, 2 * LARGE);  /* small to large */
    ASSERT(p != NULL);
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= p[i] == (unsigned char)i;
    ASSERT(same);
    p[2 * LARGE - 1] = 7;
    unsigned char *q = bd_memory_resize(p, LARGE);  /* a shrink: the same block */
    ASSERT(q == p);
    ASSERT_INT(q[2 * LARGE - 1], ==, 7);
    /* growing into a kept block copies the bytes there */
    unsigned char *spare = bd_memory_alloc(5 * LARGE);
    ASSERT(spare != NULL);
    bd_memory_free(spare);
    q = bd_memory_resize(q, 4 * LARGE);
    ASSERT(q == spare);
    same = 1;
    for (int i = 0; i < 100; i++)
        same &= q[i] == (unsigned char)i;
    ASSERT(same);
    ASSERT_INT(q[2 * LARGE - 1], ==, 7);
    size_t blocks;
    bd_memory_kept(&blocks, NULL);
    ASSERT_INT(blocks, ==, 1);  /* the old block, kept in its turn */
    bd_memory_free(q);
    bd_memory_release_kept();
}

typedef struct churn_arg {
    unsigned seed;
    int ok;
} churn_arg;

/* Takes and frees large blocks of a few sizes, each filled with this thread's byte and
 * checked before it is freed: a block handed to two threads at once shows. */
static void churn(void *arg)
{
    churn_arg *a = arg;
    unsigned char mark = (unsigned char)(a->seed + 1);
    a->ok = 1;
    for (unsigned i = 0; i < 200; i++) {
        size_t len = LARGE + ((i * 7 + a->seed) % 4) * (LARGE / 2);
        unsigned char *p = bd_memory_alloc(len);
        if (!p) {
            a->ok = 0;
            return;
        }
        for (size_t k = 0; k < len; k += 4096)
            p[k] = mark;
        for (size_t k = 0; k < len; k += 4096)
            a->ok &= p[k] == mark;
        bd_memory_free(p);
    }
}

TEST(memory_kept_blocks_go_to_one_thread_at_a_time)
{
    bd_memory_release_kept();
    enum { N = 4 };
    bd_thread *t[N];
    churn_arg args[N];
    bd_error e;
    for (unsigned i = 0; i < N; i++) {
        args[i].seed = i;
        ASSERT_OK(bd_thread_start(&t[i], churn, &args[i], (bd_error_clear(&e), &e)), &e);
    }
    for (unsigned i = 0; i < N; i++)
        bd_thread_join(t[i]);
    for (unsigned i = 0; i < N; i++)
        ASSERT(args[i].ok);
    size_t blocks;
    bd_memory_kept(&blocks, NULL);
    ASSERT(blocks >= 1 && blocks <= BD_MEMORY_KEPT_BLOCKS);
    bd_memory_release_kept();
}

#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>

/* A forked child keeps blocks of its own: its parent's list, whose lock a thread of the
 * parent may have held at the fork, is left alone. */
TEST(memory_a_forked_child_keeps_a_list_of_its_own)
{
    bd_memory_release_kept();
    void *p = bd_memory_alloc(LARGE);
    ASSERT(p != NULL);
    bd_memory_free(p);  /* the parent keeps one */
    int status = 0;
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        alarm(30);
        size_t blocks, after;
        bd_memory_kept(&blocks, NULL);
        void *q = bd_memory_alloc(LARGE);
        bd_memory_free(q);
        bd_memory_kept(&after, NULL);
        _exit(blocks == 0 && q != NULL && q != p && after == 1 ? 0 : 1);
    }
    ASSERT_INT(waitpid(pid, &status, 0), ==, pid);
    ASSERT(WIFEXITED(status));
    ASSERT_INT(WEXITSTATUS(status), ==, 0);
    size_t blocks;
    bd_memory_kept(&blocks, NULL);
    ASSERT_INT(blocks, ==, 1);  /* the parent's, untouched */
    bd_memory_release_kept();
}
#endif
