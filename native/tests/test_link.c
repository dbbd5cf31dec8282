/* test_link.c: symbolic links: created and read handle-relative, reported, never followed. */
#include <errno.h>
#include <string.h>

#include "test.h"

#define S(x) x, strlen(x)

static uint8_t kind_of(bd_dir *d, const char *name)
{
    bd_error e;
    bd_stat st;
    bd_error_clear(&e);
    return bd_stat_at(d, name, strlen(name), &st, &e) == BD_OK ? st.kind : BD_KIND_NONE;
}

static int find_kind(void *ctx, const char *name, size_t len, const bd_stat *st)
{
    uint8_t *k = ctx;
    if (len == 2 && memcmp(name, "dl", 2) == 0)
        *k = st->kind;
    return 0;
}

TEST(link_create_read_never_follow)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "target.txt", "secret", 6) == 0);
    bd_error_clear(&e);
    bd_status rc = bd_link_create_at(sb->dir, S("ln"), S("target.txt"), 0, &e);
    if (test_wine_version()) {
        /* Wine 8 cannot create reparse points: a clear NOTSUP and no placeholder left. */
        ASSERT_INT(rc, ==, BD_E_NOTSUP);
        ASSERT_INT(kind_of(sb->dir, "ln"), ==, BD_KIND_NONE);
        SKIP_UNDER_WINE("symlink creation (FSCTL_SET_REPARSE_POINT is not implemented), so reading, "
                        "kind and no-follow of links are unchecked");
    }
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT_INT(kind_of(sb->dir, "ln"), ==, BD_KIND_SYMLINK);
    char buf[64];
    size_t len = 0;
    ASSERT_OK(bd_link_read_at(sb->dir, S("ln"), buf, sizeof buf, &len, &e), &e);
    ASSERT_INT(len, ==, 10);
    ASSERT(memcmp(buf, "target.txt", 10) == 0);
    ASSERT_STATUS(bd_link_read_at(sb->dir, S("ln"), buf, 4, &len, &e), BD_E_INVAL, &e);
    ASSERT_STATUS(bd_link_read_at(sb->dir, S("target.txt"), buf, sizeof buf, &len, &e), BD_E_INVAL, &e);
    /* Never read through: neither opening nor cloning follows it. */
    bd_file *f;
    bd_copy_result r;
    ASSERT_STATUS(bd_file_open_read(sb->dir, S("ln"), &f, 0, &e), BD_E_UNSAFE_PATH, &e);
    ASSERT_STATUS(bd_file_clone_at(sb->dir, S("ln"), sb->dir, S("copy"), 0, 0, &r, &e), BD_E_UNSAFE_PATH, &e);
    ASSERT_INT(kind_of(sb->dir, "copy"), ==, BD_KIND_NONE);
    ASSERT_STATUS(bd_link_create_at(sb->dir, S("ln"), S("other"), 0, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    /* Removing the link leaves the target. */
    ASSERT_OK(bd_unlink_at(sb->dir, S("ln"), 0, &e), &e);
    ASSERT_INT(kind_of(sb->dir, "target.txt"), ==, BD_KIND_FILE);
}

TEST(link_to_directory_is_not_entered)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("real"), 0755, &e), &e);
    ASSERT(sandbox_write(sb, "real/inside", "i", 1) == 0);
    bd_error_clear(&e);
    bd_status rc = bd_link_create_at(sb->dir, S("dl"), S("real"), BD_LINK_DIR, &e);
    if (test_wine_version()) {
        ASSERT_INT(rc, ==, BD_E_NOTSUP);
        ASSERT_INT(kind_of(sb->dir, "dl"), ==, BD_KIND_NONE);
        SKIP_UNDER_WINE("directory symlink creation, and so the refusal to enter one "
                        "(Wine also follows host symlinks and ignores OBJ_DONT_REPARSE)");
    }
    ASSERT_INT(rc, ==, BD_OK);
    bd_dir *d;
    ASSERT_STATUS(bd_dir_open_at(sb->dir, S("dl"), &d, &e), BD_E_UNSAFE_PATH, &e);
    uint8_t k = BD_KIND_NONE;
    ASSERT_OK(bd_dir_list(sb->dir, find_kind, &k, &e), &e);
    ASSERT_INT(k, ==, BD_KIND_SYMLINK);
    ASSERT_OK(bd_unlink_at(sb->dir, S("dl"), 0, &e), &e);
    ASSERT_INT(kind_of(sb->dir, "real"), ==, BD_KIND_DIR);
    bd_dir *real;
    ASSERT_OK(bd_dir_open_at(sb->dir, S("real"), &real, &e), &e);
    uint8_t inside = kind_of(real, "inside");
    bd_dir_close(real);
    ASSERT_INT(inside, ==, BD_KIND_FILE);
}

TEST(link_bad_arguments)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT_STATUS(bd_link_create_at(sb->dir, S("x"), "", 0, 0, &e), BD_E_INVAL, &e);
    ASSERT_STATUS(bd_link_create_at(sb->dir, S("a/b"), S("t"), 0, &e), BD_E_INVAL, &e);
    ASSERT_STATUS(bd_link_create_at(sb->dir, S("x"), S("t"), 0x40, &e), BD_E_INVAL, &e);
    ASSERT_INT(kind_of(sb->dir, "x"), ==, BD_KIND_NONE);
}
