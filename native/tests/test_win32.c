/* test_win32.c: the Windows platform's own pieces: UTF-8/UTF-16 conversion, time and error
 * mapping, the enumeration fallback, long paths, and each copy strategy on its own (Wine
 * would otherwise only ever reach the first one that works). */
#ifdef _WIN32
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bd_win.h"
#include "test.h"

#define S(x) x, strlen(x)

TEST(win32_utf8_strict)
{
    WCHAR w[8];
    ASSERT_INT(bd_utf8_to_utf16(S("\xC0\xAF"), w, 8), ==, -1);          /* overlong '/' */
    ASSERT_INT(bd_utf8_to_utf16(S("\xE2\x82"), w, 8), ==, -1);          /* truncated */
    ASSERT_INT(bd_utf8_to_utf16(S("\xF4\x90\x80\x80"), w, 8), ==, -1);  /* past U+10FFFF */
    ASSERT_INT(bd_utf8_to_utf16(S("\x80"), w, 8), ==, -1);              /* lone continuation */
    ASSERT_INT(bd_utf8_to_utf16(S("\xED\xA0\xBD\xED\xB8\x80"), w, 8), ==, -1); /* a pair split in two */
    ASSERT_INT(bd_utf8_to_utf16(S("\xF0\x9F\x98\x80"), w, 8), ==, 2);   /* U+1F600 */
    ASSERT_INT(w[0], ==, 0xD83D);
    ASSERT_INT(w[1], ==, 0xDE00);
    ASSERT_INT(bd_utf8_to_utf16(S("\xED\xA0\x80z"), w, 8), ==, 2);      /* lone surrogate (WTF-8) */
    ASSERT_INT(w[0], ==, 0xD800);
    ASSERT_INT(bd_utf8_to_utf16(S("abc"), w, 2), ==, -2);
    char back[16];
    static const WCHAR mixed[] = { L'a', 0xE9, 0xD83D, 0xDE00, 0xDC00 };
    long n = bd_utf16_to_utf8(mixed, 5, back, sizeof back);
    ASSERT_INT(n, ==, 1 + 2 + 4 + 3);
    ASSERT(memcmp(back, "a\xC3\xA9\xF0\x9F\x98\x80\xED\xB0\x80", 10) == 0);
    ASSERT_INT(bd_utf16_to_utf8(mixed, 5, back, 4), ==, -2);
}

TEST(win32_time_conversion)
{
    ASSERT_INT(bd_win_ticks_to_ns(116444736000000000LL), ==, 0);
    ASSERT_INT(bd_win_ns_to_ticks(0), ==, 116444736000000000LL);
    ASSERT_INT(bd_win_ticks_to_ns(116444736000000001LL), ==, 100);
    ASSERT_INT(bd_win_ns_to_ticks(1600000000123456700LL), ==, 116444736000000000LL + 16000000001234567LL);
    ASSERT_INT(bd_win_ns_to_ticks(-1), ==, 116444736000000000LL - 1);  /* floor before 1970 */
    ASSERT_INT(bd_win_ticks_to_ns(bd_win_ns_to_ticks(-123456700)), ==, -123456700);
    ASSERT_INT(bd_win_ticks_to_ns(0x7FFFFFFFFFFFFFFFLL), ==, 0x7FFFFFFFFFFFFFFFLL);  /* saturates */
}

TEST(win32_error_mapping)
{
    ASSERT_INT(bd_win_errno(ERROR_FILE_NOT_FOUND), ==, ENOENT);
    ASSERT_INT(bd_win_errno(ERROR_PATH_NOT_FOUND), ==, ENOENT);
    ASSERT_INT(bd_win_errno(ERROR_SHARING_VIOLATION), ==, EACCES);
    ASSERT_INT(bd_win_errno(ERROR_ALREADY_EXISTS), ==, EEXIST);
    ASSERT_INT(bd_win_errno(ERROR_DIR_NOT_EMPTY), ==, ENOTEMPTY);
    ASSERT_INT(bd_win_errno(ERROR_DIRECTORY), ==, ENOTDIR);
    ASSERT_INT(bd_win_errno(12345), ==, EIO);
    ASSERT_INT(bd_win_status(ERROR_REPARSE_POINT_ENCOUNTERED), ==, BD_E_UNSAFE_PATH);
    ASSERT_INT(bd_win_status(ERROR_STOPPED_ON_SYMLINK), ==, BD_E_UNSAFE_PATH);
    ASSERT_INT(bd_win_status(ERROR_NOT_SAME_DEVICE), ==, BD_E_XDEV);
    ASSERT_INT(bd_win_status(ERROR_NOT_SUPPORTED), ==, BD_E_NOTSUP);
    ASSERT_INT(bd_win_status(ERROR_REQUEST_ABORTED), ==, BD_E_CANCELLED);
    ASSERT_INT(bd_win_status(ERROR_ACCESS_DENIED), ==, BD_E_IO);
    ASSERT(bd_win_clone_unsupported(ERROR_BLOCK_TOO_MANY_REFERENCES));
    ASSERT(!bd_win_clone_unsupported(ERROR_DISK_FULL));
    bd_error e;
    bd_error_clear(&e);
    ASSERT_INT(bd_win_fail(&e, ERROR_SHARING_VIOLATION, "NtCreateFile", S("x")), ==, BD_E_IO);
    bd_win_fail(&e, ERROR_DISK_FULL, "WriteFile", S("y"));  /* the first failure stays */
    ASSERT_INT(e.win_error, ==, ERROR_SHARING_VIOLATION);
    ASSERT_INT(e.sys_errno, ==, EACCES);
    ASSERT_STR(e.path, "x");
}

typedef struct listed {
    uint64_t id, id_hi;
    int n;
} listed;

static int find_f(void *ctx, const char *name, size_t len, const bd_stat *st)
{
    listed *l = ctx;
    l->n++;
    if (len == 1 && name[0] == 'f') {
        l->id = st->file_id;
        l->id_hi = st->file_id_hi;
    }
    return 0;
}

TEST(win32_enumeration_fallback)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "f", "x", 1) == 0);
    bd_stat st;
    listed l = { 0, 0, 0 };
    ASSERT_OK(bd_stat_at(sb->dir, S("f"), &st, &e), &e);
    ASSERT_OK(bd_dir_list(sb->dir, find_f, &l, &e), &e);
    ASSERT_INT(l.n, ==, 1);
    ASSERT_INT(l.id, ==, st.file_id);
    ASSERT_INT(l.id_hi, ==, st.file_id_hi);
    /* Wine refuses FileIdExtdDirectoryInfo: the listing above went through the fallback. */
    if (test_wine_version())
        ASSERT_INT(sb->dir->no_extd, ==, 1);
    /* A child handle inherits the choice, and lists just as well. */
    ASSERT_OK(bd_dir_create_at(sb->dir, S("sub"), 0755, &e), &e);
    bd_dir *sub;
    ASSERT_OK(bd_dir_open_at(sb->dir, S("sub"), &sub, &e), &e);
    LONG inherited = sub->no_extd;
    bd_dir_close(sub);
    ASSERT_INT(inherited, ==, sb->dir->no_extd);
}

TEST(win32_long_paths)
{
    bd_error e;
    SANDBOX(sb);
    char path[2048], name[64];
    memset(name, 'd', 60);
    name[60] = '\0';
    snprintf(path, sizeof path, "%s", sb->path);
    bd_dir *d = sb->dir, *next = 0;
    bd_stat deep;
    for (int i = 0; i < 8; i++) {  /* 8 x 61 characters: well past MAX_PATH (260) */
        name[0] = (char)('a' + i);
        ASSERT_OK(bd_dir_create_at(d, S(name), 0755, &e), &e);
        ASSERT_OK(bd_dir_open_at(d, S(name), &next, &e), &e);
        if (d != sb->dir)
            bd_dir_close(d);
        d = next;
        strcat(path, i % 2 ? "\\" : "/");  /* both separators are accepted */
        strcat(path, name);
    }
    ASSERT_OK(bd_dir_stat(d, &deep, &e), &e);
    bd_dir_close(d);
    ASSERT_INT(strlen(path), >, 400);
    bd_dir *by_path;
    bd_stat st;
    ASSERT_OK(bd_dir_open(path, &by_path, &e), &e);
    ASSERT_OK(bd_dir_stat(by_path, &st, &e), &e);
    bd_dir_close(by_path);
    ASSERT_INT(st.file_id, ==, deep.file_id);
    ASSERT_STATUS(bd_dir_open("bad\xff", &by_path, &e), BD_E_INVAL, &e);
    ASSERT_INT(e.sys_errno, ==, EILSEQ);
}

TEST(win32_each_copy_strategy)
{
    bd_error e;
    SANDBOX(sb);
    static char data[300000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i % 251);
    memset(data + 100000, 0, 150000);  /* a zero run, as a hole would read */
    ASSERT(sandbox_write(sb, "src", data, sizeof data) == 0);
    static const struct { uint32_t methods; uint32_t want; const char *dst; } CASES[] = {
        { BD_WIN_TRY_OS_COPY, BD_METHOD_OS_COPY, "os" },
        { BD_WIN_TRY_USER, BD_METHOD_USER_COPY, "user" },
    };
    static char back[sizeof data + 1];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        bd_copy_result r;
        bd_progress p;
        bd_progress_init(&p);
        ASSERT_OK(bd_win_clone_with(sb->dir, S("src"), sb->dir, S(CASES[i].dst), 0, CASES[i].methods,
                                    &p, &r, &e), &e);
        ASSERT_INT(r.method, ==, CASES[i].want);
        ASSERT_INT(r.bytes_copied, ==, sizeof data);
        ASSERT_INT(p.bytes_done, ==, sizeof data);
        ASSERT_INT(read_all(sb->dir, CASES[i].dst, back, sizeof back), ==, sizeof data);
        ASSERT(memcmp(back, data, sizeof data) == 0);
    }
    /* The block clone alone: where the volume cannot, a fallback-class error and nothing
     * left behind (Wine answers ERROR_NOT_SUPPORTED, NTFS ERROR_INVALID_FUNCTION). */
    bd_copy_result r;
    bd_error_clear(&e);
    bd_status rc = bd_win_clone_with(sb->dir, S("src"), sb->dir, S("fsctl"), BD_CLONE_REQUIRE,
                                     BD_WIN_TRY_FSCTL, 0, &r, &e);
    if (rc != BD_OK) {
        ASSERT_INT(rc, ==, BD_E_NOTSUP);
        ASSERT(bd_win_clone_unsupported(e.win_error));
        bd_stat st;
        ASSERT_STATUS(bd_stat_at(sb->dir, S("fsctl"), &st, &e), BD_E_IO, &e);
    } else {
        ASSERT_INT(r.method, ==, BD_METHOD_CLONE);
    }
    if (test_wine_version())
        test_skip("FSCTL_DUPLICATE_EXTENTS_TO_FILE itself (block cloning needs ReFS or a Dev Drive)");
}

TEST(win32_alternate_streams)
{
    bd_error e;
    SKIP_UNDER_WINE("alternate data streams (Wine creates a file literally named \"f:s\")");
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "f", "main", 4) == 0);
    ASSERT(sandbox_write(sb, "f:Zone.Identifier", "[ZoneTransfer]", 14) == 0);
    ASSERT(sandbox_write(sb, "g", "main", 4) == 0);
    bd_stat st;
    ASSERT_OK(bd_stat_at(sb->dir, S("f"), &st, &e), &e);
    ASSERT_OK(bd_meta_copy_at(sb->dir, S("f"), sb->dir, S("g"), &st, BD_META_XATTRS, &e), &e);
    char path[1100], buf[32];
    snprintf(path, sizeof path, "%s\\g:Zone.Identifier", sb->path);
    FILE *fp = fopen(path, "rb");
    ASSERT(fp);
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    ASSERT_INT(n, ==, 14);
    ASSERT(memcmp(buf, "[ZoneTransfer]", 14) == 0);
}
#else
typedef int bd_test_win32_only; /* ISO C wants at least one declaration per file */
#endif
