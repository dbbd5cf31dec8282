/* test.h: the C test runner: a registry, assertions, Wine skips and a sandbox directory.
 *
 * A test is `TEST(name) { ... }`; an assertion that fails records file:line and the values,
 * and returns from the test.  main (runner.c) runs every test and prints "N passed,
 * N failed" as its last line, exiting non-zero on any failure.  Parts that Wine cannot run
 * are skipped with SKIP_UNDER_WINE(why), which prints "skipped under Wine: <test>: <why>".
 */
#ifndef BODEGA_TEST_H
#define BODEGA_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "bodega/bd_platform.h"
#include "bodega/bd_status.h"

typedef void (*test_fn)(void);

void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...);
void test_fail_status(const char *file, int line, const char *expr, bd_status got,
                      bd_status want, const bd_error *e);
/* Records that the current test skipped something under Wine (printed, counted). */
void test_skip(const char *why);
/* The Wine version, or NULL when running natively (Linux or real Windows). */
const char *test_wine_version(void);

/* Registration runs before main (GCC/Clang constructors: mingw, zig and Linux gcc). */
#define TEST(name)                                                                     \
    static void name(void);                                                            \
    __attribute__((constructor)) static void name##_register(void)                     \
    {                                                                                  \
        test_register(#name, name);                                                    \
    }                                                                                  \
    static void name(void)

#define ASSERT(cond)                                                                   \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            test_fail(__FILE__, __LINE__, "%s", #cond);                                \
            return;                                                                    \
        }                                                                              \
    } while (0)

#define ASSERT_INT(a, op, b)                                                           \
    do {                                                                               \
        long long a_ = (long long)(a), b_ = (long long)(b);                            \
        if (!(a_ op b_)) {                                                             \
            test_fail(__FILE__, __LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b, a_, b_); \
            return;                                                                    \
        }                                                                              \
    } while (0)

#define ASSERT_STR(a, b)                                                               \
    do {                                                                               \
        const char *a_ = (a), *b_ = (b);                                               \
        if (strcmp(a_, b_) != 0) {                                                     \
            test_fail(__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", #a, #b, a_, b_); \
            return;                                                                    \
        }                                                                              \
    } while (0)

/* Runs expr with a cleared e and expects status `want`. */
#define ASSERT_STATUS(expr, want, e)                                                   \
    do {                                                                               \
        bd_error_clear(e);                                                             \
        bd_status s_ = (expr);                                                         \
        if (s_ != (want)) {                                                            \
            test_fail_status(__FILE__, __LINE__, #expr, s_, (want), (e));              \
            return;                                                                    \
        }                                                                              \
    } while (0)

#define ASSERT_OK(expr, e) ASSERT_STATUS(expr, BD_OK, e)

#define SKIP_UNDER_WINE(why)                                                           \
    do {                                                                               \
        if (test_wine_version()) {                                                     \
            test_skip(why);                                                            \
            return;                                                                    \
        }                                                                              \
    } while (0)

/* ---- the runner as a child program (tests of process launch) ----------------------- */

/* `bd_tests --child VERB ARGS...`: what a launched app does (test_process.c). */
int test_child_main(int argc, char **argv);
/* Records how the runner was started, so test_self() can name its own executable. */
void test_set_self(const char *argv0);
/* The runner's own executable as an absolute path ("" when unknown). */
const char *test_self(void);

/* ---- a fresh directory per test, removed afterwards ---------------------------------- */

typedef struct sandbox {
    char path[1024];  /* native absolute path, no trailing separator */
    bd_dir *dir;
} sandbox;

/* A fresh directory under the temp dir (BD_TEST_TMP overrides), or NULL.  The runner
 * removes it (through the platform interface) when the test ends, failed or not. */
sandbox *sandbox_new(void);
/* Writes a file at sb/rel ('/'-separated) with stdio; 0 on success. */
int sandbox_write(const sandbox *sb, const char *rel, const void *data, size_t n);
/* Removes `name` in parent recursively with bd_dir_list/bd_unlink_at; 0 on success. */
int remove_tree(bd_dir *parent, const char *name);

/* Opens a sandbox or fails the test. */
#define SANDBOX(sb)                                                                    \
    sandbox *sb = sandbox_new();                                                       \
    if (!sb) {                                                                         \
        test_fail(__FILE__, __LINE__, "cannot create a sandbox directory");            \
        return;                                                                        \
    }

/* How many of sb/rel's pages are in the page cache (mincore of a map of it); -1 where the
 * platform cannot tell (Windows) or the file cannot be mapped. */
long resident_pages(const sandbox *sb, const char *rel);

/* Writes sb/rel's pages to the disk (fsync) so that the cache may drop them; 0 on success
 * (and on Windows, where nothing asks for it). */
int sandbox_sync(const sandbox *sb, const char *rel);

/* Reads a whole small file through bd_file_open_read/pread; returns its length or -1. */
long read_all(bd_dir *d, const char *name, char *buf, size_t cap);

#endif
