/* test_file.c: reading files and cloning them (clone where the volume can, else the
 * fallback copies), with their failure modes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_progress.h"
#include "test.h"

#define S(x) x, strlen(x)

static char *pattern(size_t n, unsigned seed)
{
    char *b = malloc(n ? n : 1);
    for (size_t i = 0; b && i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (char)(seed >> 16);
    }
    return b;
}

static int exists(bd_dir *d, const char *name)
{
    bd_error e;
    bd_stat st;
    bd_error_clear(&e);
    return bd_stat_at(d, name, strlen(name), &st, &e) == BD_OK;
}

TEST(file_pread)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "f", "0123456789", 10) == 0);
    bd_file *f;
    bd_stat st, st2;
    ASSERT_OK(bd_file_open_read(sb->dir, S("f"), &f, &st, &e), &e);
    char buf[16];
    size_t n;
    ASSERT_OK(bd_file_pread(f, buf, 4, 3, &n, &e), &e);
    ASSERT_INT(n, ==, 4);
    ASSERT(memcmp(buf, "3456", 4) == 0);
    ASSERT_OK(bd_file_pread(f, buf, sizeof buf, 8, &n, &e), &e);
    ASSERT_INT(n, ==, 2);
    ASSERT(memcmp(buf, "89", 2) == 0);
    ASSERT_OK(bd_file_pread(f, buf, sizeof buf, 10, &n, &e), &e);
    ASSERT_INT(n, ==, 0);
    ASSERT_OK(bd_file_pread(f, buf, sizeof buf, 1000, &n, &e), &e);
    ASSERT_INT(n, ==, 0);
    ASSERT_OK(bd_file_stat(f, &st2, &e), &e);
    bd_file_close(f);
    ASSERT_INT(st.kind, ==, BD_KIND_FILE);
    ASSERT_INT(st.size, ==, 10);
    ASSERT_INT(st2.file_id, ==, st.file_id);
}

TEST(file_will_read_is_a_hint_that_changes_nothing)
{
    /* Asked for beyond its end, across several of the platform's steps, or for nothing: the
     * handle reads the same bytes and metadata after (the hint never fails, never moves). */
    bd_error e;
    SANDBOX(sb);
    size_t size = (3 << 20) + 5;
    char *data = malloc(size), *back = malloc(size);
    ASSERT(data && back);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 13 + i / 4096);
    ASSERT_INT(sandbox_write(sb, "f", data, size), ==, 0);
    bd_file *f;
    bd_stat st, st2;
    ASSERT_OK(bd_file_open_read(sb->dir, S("f"), &f, &st, &e), &e);
    bd_file_will_read(f, 0, 0);
    bd_file_will_read(f, 0, st.size);
    bd_file_will_read(f, (1 << 20) - 1, (uint64_t)1 << 40);
    bd_file_will_read(f, st.size + 4096, 100);
    size_t n, done = 0;
    while (done < size) {
        ASSERT_OK(bd_file_pread(f, back + done, size - done, done, &n, &e), &e);
        ASSERT(n > 0);
        done += n;
    }
    ASSERT(memcmp(back, data, size) == 0);
    ASSERT_OK(bd_file_stat(f, &st2, &e), &e);
    ASSERT_INT(st2.size, ==, st.size);
    ASSERT_INT(st2.mtime_ns, ==, st.mtime_ns);
    ASSERT_INT(st2.ctime_ns, ==, st.ctime_ns);
    bd_file_close(f);
    free(data);
    free(back);
}

TEST(file_drop_cached_empties_the_cache_of_a_file_read)
{
    /* Read (so cached) and written back, the file's pages leave the cache when dropped; the
     * handle still reads the same bytes after (from the disk). */
    bd_error e;
    SANDBOX(sb);
    size_t size = (1 << 20) + 3;
    char *data = pattern(size, 7), *back = malloc(size);
    ASSERT(data && back);
    ASSERT_INT(sandbox_write(sb, "f", data, size), ==, 0);
    ASSERT_INT(sandbox_sync(sb, "f"), ==, 0);
    bd_file *f;
    ASSERT_OK(bd_file_open_read(sb->dir, S("f"), &f, 0, &e), &e);
    size_t n, done = 0;
    while (done < size) {
        ASSERT_OK(bd_file_pread(f, back + done, size - done, done, &n, &e), &e);
        ASSERT(n > 0);
        done += n;
    }
#ifndef _WIN32
    ASSERT(resident_pages(sb, "f") > 0);
#endif
    bd_file_drop_cached(f);
#ifndef _WIN32
    ASSERT_INT(resident_pages(sb, "f"), ==, 0);
#endif
    memset(back, 0, size);
    for (done = 0; done < size; done += n) {
        ASSERT_OK(bd_file_pread(f, back + done, size - done, done, &n, &e), &e);
        ASSERT(n > 0);
    }
    ASSERT(memcmp(back, data, size) == 0);
    bd_file_close(f);
    free(data);
    free(back);
}

TEST(file_open_errors)
{
    bd_error e;
    bd_file *f;
    SANDBOX(sb);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0755, &e), &e);
    ASSERT_STATUS(bd_file_open_read(sb->dir, S("d"), &f, 0, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EISDIR);
    ASSERT_STATUS(bd_file_open_read(sb->dir, S("nope"), &f, 0, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    ASSERT_STR(e.path, "nope");
}

static int clone_and_check(sandbox *sb, const char *src, const char *dst, uint32_t flags,
                           const char *data, size_t n, bd_copy_result *r)
{
    bd_error e;
    bd_progress p;
    bd_progress_init(&p);
    bd_error_clear(&e);
    if (bd_file_clone_at(sb->dir, src, strlen(src), sb->dir, dst, strlen(dst), flags, &p, r, &e) != BD_OK)
        return -1;
    char *back = malloc(n + 1);
    long got = back ? read_all(sb->dir, dst, back, n + 1) : -1;
    int same = got == (long)n && memcmp(back, data, n) == 0;
    free(back);
    if (!same || p.bytes_done != n || p.bytes_cloned != r->bytes_cloned || p.bytes_copied != r->bytes_copied)
        return -2;
    return 0;
}

TEST(file_clone_auto_and_copy)
{
    bd_copy_result r;
    size_t n = 3 * 1024 * 1024 + 123;  /* several copy buffers and an unaligned tail */
    char *data = pattern(n, 7);
    ASSERT(data);
    SANDBOX(sb);
    int w = sandbox_write(sb, "src", data, n);
    int a = w ? -9 : clone_and_check(sb, "src", "auto", BD_CLONE_AUTO, data, n, &r);
    bd_copy_result r2;
    int b = w ? -9 : clone_and_check(sb, "src", "never", BD_CLONE_NEVER, data, n, &r2);
    bd_copy_result r3;  /* the read-soon hint changes no byte and no method */
    int c = w ? -9 : clone_and_check(sb, "src", "soon", BD_CLONE_AUTO | BD_CLONE_READ_SOON, data, n, &r3);
    free(data);
    ASSERT_INT(w, ==, 0);
    ASSERT_INT(a, ==, 0);
    ASSERT(r.method == BD_METHOD_CLONE ? r.bytes_cloned == n : r.bytes_copied == n);
    ASSERT_INT(b, ==, 0);
    ASSERT(r2.method != BD_METHOD_CLONE && r2.method != BD_METHOD_NONE);
    ASSERT_INT(r2.bytes_cloned, ==, 0);
    ASSERT_INT(r2.bytes_copied, ==, n);
    ASSERT_INT(c, ==, 0);
    ASSERT_INT(r3.method, ==, r.method);
}

TEST(file_clone_empty)
{
    bd_error e;
    bd_copy_result r = { 99, 1, 1 };
    bd_stat st;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "empty", "", 0) == 0);
    ASSERT_OK(bd_file_clone_at(sb->dir, S("empty"), sb->dir, S("copy"), 0, 0, &r, &e), &e);
    ASSERT_INT(r.method, ==, BD_METHOD_NONE);
    ASSERT_INT(r.bytes_cloned + r.bytes_copied, ==, 0);
    ASSERT_OK(bd_stat_at(sb->dir, S("copy"), &st, &e), &e);
    ASSERT_INT(st.size, ==, 0);
    ASSERT_INT(st.kind, ==, BD_KIND_FILE);
}

TEST(file_clone_errors_leave_nothing)
{
    bd_error e;
    bd_copy_result r;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "src", "new data", 8) == 0);
    ASSERT(sandbox_write(sb, "taken", "old", 3) == 0);
    /* An existing destination is neither overwritten nor removed. */
    ASSERT_STATUS(bd_file_clone_at(sb->dir, S("src"), sb->dir, S("taken"), 0, 0, &r, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    char buf[16];
    ASSERT_INT(read_all(sb->dir, "taken", buf, sizeof buf), ==, 3);
    ASSERT(memcmp(buf, "old", 3) == 0);
    /* A missing source leaves no destination. */
    ASSERT_STATUS(bd_file_clone_at(sb->dir, S("gone"), sb->dir, S("dst"), 0, 0, &r, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    ASSERT_STR(e.path, "gone");
    ASSERT(!exists(sb->dir, "dst"));
    /* A directory is not a file to clone. */
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0755, &e), &e);
    ASSERT_STATUS(bd_file_clone_at(sb->dir, S("d"), sb->dir, S("dst"), 0, 0, &r, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EISDIR);
    ASSERT(!exists(sb->dir, "dst"));
    /* Contradictory flags are a caller bug. */
    ASSERT_STATUS(bd_file_clone_at(sb->dir, S("src"), sb->dir, S("dst"),
                                   BD_CLONE_REQUIRE | BD_CLONE_NEVER, 0, &r, &e), BD_E_INVAL, &e);
    ASSERT(!exists(sb->dir, "dst"));
    /* So is a flag nobody defined. */
    ASSERT_STATUS(bd_file_clone_at(sb->dir, S("src"), sb->dir, S("dst"), 0x80, 0, &r, &e), BD_E_INVAL, &e);
    ASSERT(!exists(sb->dir, "dst"));
}

TEST(file_clone_require_matches_volume)
{
    bd_error e;
    bd_fs_info fs;
    bd_copy_result r;
    size_t n = 70000;
    char *data = pattern(n, 3);
    ASSERT(data);
    SANDBOX(sb);
    int w = sandbox_write(sb, "src", data, n);
    free(data);
    ASSERT_INT(w, ==, 0);
    ASSERT_OK(bd_fs_info_at(sb->dir, 1, &fs, &e), &e);
    bd_error_clear(&e);
    bd_status rc = bd_file_clone_at(sb->dir, S("src"), sb->dir, S("dst"), BD_CLONE_REQUIRE, 0, &r, &e);
    if (fs.flags & BD_FS_CLONE) {
        ASSERT_INT(rc, ==, BD_OK);
        ASSERT_INT(r.method, ==, BD_METHOD_CLONE);
        ASSERT_INT(r.bytes_cloned, ==, n);
        ASSERT_INT(r.bytes_copied, ==, 0);
    } else {
        /* No clone on this volume: a clear NOTSUP, and no partial destination left. */
        ASSERT_INT(rc, ==, BD_E_NOTSUP);
        ASSERT(!exists(sb->dir, "dst"));
    }
}

static int cancel_now(const bd_progress *p, void *ctx)
{
    (void)p;
    (void)ctx;
    return 1;
}

TEST(file_clone_cancel_leaves_nothing)
{
    bd_error e;
    bd_copy_result r;
    bd_progress p;
    size_t n = 8 * 1024 * 1024;
    char *data = pattern(n, 11);
    ASSERT(data);
    SANDBOX(sb);
    int w = sandbox_write(sb, "src", data, n);
    free(data);
    ASSERT_INT(w, ==, 0);
    /* Cancelled before it starts. */
    bd_progress_init(&p);
    bd_progress_cancel(&p);
    ASSERT_STATUS(bd_file_clone_at(sb->dir, S("src"), sb->dir, S("a"), 0, &p, &r, &e), BD_E_CANCELLED, &e);
    ASSERT(!exists(sb->dir, "a"));
    /* Cancelled by the progress callback while copying. */
    bd_progress_init(&p);
    p.fn = cancel_now;
    p.interval_ns = 0;
    ASSERT_STATUS(bd_file_clone_at(sb->dir, S("src"), sb->dir, S("b"), BD_CLONE_NEVER, &p, &r, &e),
                  BD_E_CANCELLED, &e);
    ASSERT(!exists(sb->dir, "b"));
}
