/* test_manifest.c: the racy rule and the copy rule on manifests built in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "bodega/bd_manifest.h"
#include "bodega/bd_scan.h"
#include "../src/scan_order.h"

/* One entry of a manifest made by make_mf: a file's hash is 32 bytes of hash_byte. */
typedef struct row {
    const char *path;
    uint8_t kind;
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    uint64_t file_id;
    uint8_t hash_byte;
    const char *link;  /* a symlink's target, or a hard link's first name (NULL: none) */
} row;

/* A full manifest with a stat cache of the n rows (sorted by path), or NULL. */
static bd_mf *make_mf(const row *rows, size_t n, int64_t scan_start_ns)
{
    size_t paths_len = 0, links_len = 0;
    for (size_t i = 0; i < n; i++) {
        paths_len += strlen(rows[i].path);
        links_len += rows[i].link ? strlen(rows[i].link) : 0;
    }
    bd_mf *m;
    bd_error e;
    bd_error_clear(&e);
    if (bd_mf_alloc(n, paths_len, links_len, 1, &m, &e) != BD_OK)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        m->path_len[i] = (uint32_t)strlen(rows[i].path);
        m->link_len[i] = rows[i].link ? (uint32_t)strlen(rows[i].link) : 0;
    }
    bd_mf_index(m);
    for (size_t i = 0; i < n; i++) {
        memcpy(m->paths + m->path_off[i], rows[i].path, m->path_len[i]);
        if (rows[i].link)
            memcpy(m->links + m->link_off[i], rows[i].link, m->link_len[i]);
        m->kind[i] = rows[i].kind;
        m->mode[i] = rows[i].kind == BD_KIND_DIR ? 040755 : rows[i].kind == BD_KIND_SYMLINK ? 0120000 : 0100644;
        m->size[i] = rows[i].size;
        m->mtime_ns[i] = rows[i].mtime_ns;
        m->ctime_ns[i] = rows[i].ctime_ns;
        m->file_id[i] = rows[i].file_id;
        m->volume_id[i] = 7;
        if (rows[i].kind == BD_KIND_FILE)
            memset(m->hash + 32 * i, rows[i].hash_byte, BD_HASH_LEN);
    }
    m->scan_start_ns = scan_start_ns;
    m->racy_window_ns = BD_MF_RACY_FINE_NS;
    return m;
}

#define S 1000000000LL

TEST(manifest_reuse_takes_only_old_unchanged_files)
{
    /* prev scanned at 100 s: "old" is out of the racy window, "racy" in it (ctime 99.5 s) */
    const row prev_rows[] = {
        {"changed", BD_KIND_FILE, 4, 10 * S, 10 * S, 1, 0xC1, NULL},
        {"old", BD_KIND_FILE, 4, 10 * S, 10 * S, 2, 0xA1, NULL},
        {"racy", BD_KIND_FILE, 4, 10 * S, 99 * S + S / 2, 3, 0xB1, NULL},
    };
    const row cur_rows[] = {
        {"changed", BD_KIND_FILE, 4, 10 * S, 150 * S, 1, 0, NULL},  /* rewritten, mtime kept */
        {"dir", BD_KIND_DIR, 0, 10 * S, 10 * S, 9, 0, NULL},
        {"old", BD_KIND_FILE, 4, 10 * S, 10 * S, 2, 0, NULL},
        {"racy", BD_KIND_FILE, 4, 10 * S, 99 * S + S / 2, 3, 0, NULL},
    };
    bd_mf *prev = make_mf(prev_rows, 3, 100 * S), *cur = make_mf(cur_rows, 4, 200 * S);
    uint32_t suspects[4];
    ASSERT(prev && cur);
    size_t k = bd_mf_reuse(cur, prev, suspects);
    int hash_ok = cur->hash[32 * 2] == 0xA1 && cur->hash[32 * 2 + 31] == 0xA1;
    bd_mf_free(prev);
    bd_mf_free(cur);
    ASSERT_INT(k, ==, 2);
    ASSERT_INT(suspects[0], ==, 0);
    ASSERT_INT(suspects[1], ==, 3);
    ASSERT(hash_ok);
}

TEST(manifest_reuse_copy_takes_vouched_files_with_equal_size_and_mtime)
{
    const row src_rows[] = {
        {"a", BD_KIND_FILE, 4, 10 * S, 10 * S, 1, 0xA1, NULL},   /* vouched, copied as is */
        {"b", BD_KIND_FILE, 4, 10 * S, 10 * S, 2, 0xB1, NULL},   /* not vouched */
        {"c", BD_KIND_FILE, 4, 10 * S, 10 * S, 3, 0xC1, NULL},   /* vouched, the copy's size differs */
        {"d", BD_KIND_FILE, 4, 10 * S, 10 * S, 4, 0xD1, NULL},   /* vouched, the copy's mtime differs */
        {"dir", BD_KIND_DIR, 0, 10 * S, 10 * S, 5, 0, NULL},
        {"e", BD_KIND_FILE, 4, 10 * S, 10 * S, 6, 0xE1, NULL},   /* vouched, not in the copy */
        {"g", BD_KIND_DIR, 0, 10 * S, 10 * S, 7, 0, NULL},       /* a directory, a file in the copy */
    };
    const row copy_rows[] = {
        {"a", BD_KIND_FILE, 4, 10 * S, 500 * S, 11, 0, NULL},
        {"b", BD_KIND_FILE, 4, 10 * S, 500 * S, 12, 0, NULL},
        {"c", BD_KIND_FILE, 5, 10 * S, 500 * S, 13, 0, NULL},
        {"d", BD_KIND_FILE, 4, 11 * S, 500 * S, 14, 0, NULL},
        {"dir", BD_KIND_DIR, 0, 10 * S, 500 * S, 15, 0, NULL},
        {"f", BD_KIND_FILE, 4, 10 * S, 500 * S, 16, 0, NULL},    /* not in the source */
        {"g", BD_KIND_FILE, 0, 10 * S, 500 * S, 17, 0, NULL},
    };
    const uint8_t vouched[] = {1, 0, 1, 1, 1, 1, 1};
    bd_mf *src = make_mf(src_rows, 7, 100 * S), *copy = make_mf(copy_rows, 7, 600 * S);
    uint32_t suspects[7];
    ASSERT(src && copy);
    size_t k = bd_mf_reuse_copy(copy, src, vouched, suspects);
    int hash_ok = copy->hash[0] == 0xA1 && copy->hash[31] == 0xA1;
    int cache_kept = copy->ctime_ns[0] == 500 * S && copy->file_id[0] == 11;
    bd_mf_free(src);
    bd_mf_free(copy);
    ASSERT_INT(k, ==, 5);
    ASSERT_INT(suspects[0], ==, 1);
    ASSERT_INT(suspects[1], ==, 2);
    ASSERT_INT(suspects[2], ==, 3);
    ASSERT_INT(suspects[3], ==, 5);
    ASSERT_INT(suspects[4], ==, 6);
    ASSERT(hash_ok);
    ASSERT(cache_kept);
}

TEST(manifest_diff_unneeded_leaves_the_files_a_diff_tells_by_stat)
{
    const row prev_rows[] = {
        {"dir", BD_KIND_DIR, 0, 10 * S, 10 * S, 1, 0, NULL},       /* a file in cur */
        {"gone7", BD_KIND_FILE, 7, 10 * S, 10 * S, 2, 0x71, NULL}, /* not in cur: an added 7 may be it */
        {"grown", BD_KIND_FILE, 4, 10 * S, 10 * S, 3, 0x31, NULL},
        {"kept", BD_KIND_FILE, 4, 10 * S, 10 * S, 4, 0x41, NULL},
        {"linked", BD_KIND_FILE, 4, 10 * S, 10 * S, 5, 0x51, NULL},
    };
    const row cur_rows[] = {
        {"dir", BD_KIND_FILE, 3, 10 * S, 50 * S, 11, 0, NULL},      /* type changed: unneeded */
        {"grown", BD_KIND_FILE, 5, 20 * S, 50 * S, 3, 0, NULL},     /* other size: unneeded */
        {"kept", BD_KIND_FILE, 4, 20 * S, 50 * S, 4, 0, NULL},      /* same size: read */
        {"linked", BD_KIND_FILE, 6, 20 * S, 50 * S, 5, 0, NULL},    /* other size, first of links: read */
        {"linked2", BD_KIND_FILE, 6, 20 * S, 50 * S, 5, 0, "linked"},
        {"new6", BD_KIND_FILE, 6, 20 * S, 50 * S, 12, 0, NULL},     /* added, no 6 gone: unneeded */
        {"new7", BD_KIND_FILE, 7, 20 * S, 50 * S, 13, 0, NULL},     /* added, a 7 gone: read */
    };
    bd_mf *prev = make_mf(prev_rows, 5, 100 * S), *cur = make_mf(cur_rows, 7, 200 * S);
    uint32_t idx[7];
    ASSERT(prev && cur);
    size_t k = bd_mf_reuse(cur, prev, idx);
    size_t kept = bd_mf_diff_unneeded(cur, prev, idx, k);
    size_t all = bd_mf_diff_unneeded(cur, NULL, idx, k);
    bd_mf_free(prev);
    bd_mf_free(cur);
    ASSERT_INT(k, ==, 6);
    ASSERT_INT(all, ==, 6);
    ASSERT_INT(kept, ==, 3);
    ASSERT_INT(idx[0], ==, 2);  /* read: kept, linked, new7 */
    ASSERT_INT(idx[1], ==, 3);
    ASSERT_INT(idx[2], ==, 6);
    ASSERT_INT(idx[3], ==, 0);  /* left, in order: dir, grown, new6 */
    ASSERT_INT(idx[4], ==, 1);
    ASSERT_INT(idx[5], ==, 5);
}

TEST(manifest_reuse_copy_of_an_empty_source_reads_every_file)
{
    const row copy_rows[] = {
        {"a", BD_KIND_FILE, 4, 10 * S, 500 * S, 11, 0, NULL},
        {"b", BD_KIND_SYMLINK, 1, 10 * S, 500 * S, 12, 0, NULL},
    };
    bd_mf *src = make_mf(NULL, 0, 100 * S), *copy = make_mf(copy_rows, 2, 600 * S);
    uint32_t suspects[2];
    ASSERT(src && copy);
    size_t k = bd_mf_reuse_copy(copy, src, (const uint8_t *)"", suspects);
    bd_mf_free(src);
    bd_mf_free(copy);
    ASSERT_INT(k, ==, 1);
    ASSERT_INT(suspects[0], ==, 0);
}

static int table_ok(const bd_mf *m, int delta, int owners, bd_mf_problem *pr)
{
    return bd_mf_check_sections(m->table, m->table_len, NULL, 0, m->n, delta, owners, pr);
}

TEST(manifest_hard_links_are_checked)
{
    bd_mf_problem pr;
    const row good[] = {
        {"a", BD_KIND_FILE, 4, S, S, 1, 0xA1, NULL},
        {"b", BD_KIND_FILE, 4, S, S, 1, 0xA1, "a"},
        {"c", BD_KIND_FILE, 4, S, S, 1, 0xA1, "a"},
    };
    const row later[] = {{"a", BD_KIND_FILE, 4, S, S, 1, 0xA1, "b"}, {"b", BD_KIND_FILE, 4, S, S, 1, 0xA1, NULL}};
    const row other[] = {{"a", BD_KIND_FILE, 4, S, S, 1, 0xA1, NULL}, {"b", BD_KIND_FILE, 4, S, S, 1, 0xB1, "a"}};
    const row chain[] = {{"a", BD_KIND_FILE, 4, S, S, 1, 0xA1, NULL}, {"b", BD_KIND_FILE, 4, S, S, 1, 0xA1, "a"},
                         {"c", BD_KIND_FILE, 4, S, S, 1, 0xA1, "b"}};
    const row to_dir[] = {{"a", BD_KIND_DIR, 0, S, S, 1, 0, NULL}, {"b", BD_KIND_FILE, 4, S, S, 1, 0xA1, "a"}};
    const row on_dir[] = {{"a", BD_KIND_FILE, 4, S, S, 1, 0xA1, NULL}, {"b", BD_KIND_DIR, 0, S, S, 1, 0, "a"}};
    bd_mf *g = make_mf(good, 3, S), *l = make_mf(later, 2, S), *o = make_mf(other, 2, S);
    bd_mf *c = make_mf(chain, 3, S), *t = make_mf(to_dir, 2, S), *d = make_mf(on_dir, 2, S);
    int ok_good = g && table_ok(g, 0, 0, &pr);
    int ok_later = l && table_ok(l, 0, 0, &pr);
    int ok_other = o && table_ok(o, 0, 0, &pr);
    const char *other_what = ok_other ? "" : pr.what;
    int ok_other_delta = o && table_ok(o, 1, 0, &pr);  /* a delta's first name may be in its base */
    int ok_chain = c && table_ok(c, 0, 0, &pr);
    int ok_to_dir = t && table_ok(t, 0, 0, &pr);
    int ok_on_dir = d && table_ok(d, 0, 0, &pr);
    bd_mf_free(g), bd_mf_free(l), bd_mf_free(o), bd_mf_free(c), bd_mf_free(t), bd_mf_free(d);
    ASSERT(ok_good);
    ASSERT(!ok_later);
    ASSERT(!ok_other);
    ASSERT(strstr(other_what, "hard link") != NULL);
    ASSERT(ok_other_delta);
    ASSERT(!ok_chain);
    ASSERT(!ok_to_dir);
    ASSERT(!ok_on_dir);
}

/* A load checks each path only past the components it shares with the path before it:
 * whatever follows them is still refused when malformed, out of order, or flagged wrong. */
static const char *paths_problem(const char *const *paths, size_t n, const uint8_t *flags)
{
    row rows[8];
    for (size_t i = 0; i < n; i++) {
        row r = {paths[i], BD_KIND_DIR, 0, S, S, 1, 0, NULL};
        rows[i] = r;
    }
    bd_mf *m = make_mf(rows, n, S);
    if (!m)
        return "no memory";
    if (flags)
        memcpy(m->flags, flags, n);
    bd_mf_problem pr;
    int ok = table_ok(m, 0, 0, &pr);
    bd_mf_free(m);
    return ok ? NULL : pr.what;
}

TEST(manifest_paths_checked_past_their_shared_components)
{
    const char *good[] = {"a", "a/b", "a/b/c", "a/b/cd", "a/bc", "a/bc/x", "b"};
    const char *dotdot[] = {"a/b", "a/b/.."};
    const char *dot[] = {"a/bc", "a/bc/x/."};
    const char *trailing[] = {"a/b", "a/b/"};
    const char *empty[] = {"a", "a//b"};
    const char *repeated[] = {"a/b/c", "a/b/c"};
    const char *backwards[] = {"a/b/d", "a/b/c"};
    const char *prefix_after[] = {"a/b/cd", "a/b/c"};
    const char *not_utf8[] = {"d/x", "d/\xff", "d/\xff/a"};
    const uint8_t right[] = {0, BD_MF_PATH_NOT_UTF8, BD_MF_PATH_NOT_UTF8};
    const uint8_t shared_wrong[] = {0, BD_MF_PATH_NOT_UTF8, 0};  /* the bad byte is in the shared part */
    const char *utf8[] = {"e/\xc3\xa9", "e/\xc3\xa9/\xc3", "e/\xc3\xa9/\xc3\xa9"};
    const uint8_t utf8_right[] = {0, BD_MF_PATH_NOT_UTF8, 0};
    const uint8_t tail_wrong[] = {0, 0, 0};  /* a cut character after the shared part */
    ASSERT(paths_problem(good, 7, NULL) == NULL);
    ASSERT(strcmp(paths_problem(dotdot, 2, NULL), "malformed path") == 0);
    ASSERT(strcmp(paths_problem(dot, 2, NULL), "malformed path") == 0);
    ASSERT(strcmp(paths_problem(trailing, 2, NULL), "malformed path") == 0);
    ASSERT(strcmp(paths_problem(empty, 2, NULL), "malformed path") == 0);
    ASSERT(strcmp(paths_problem(repeated, 2, NULL), "paths out of order or repeated") == 0);
    ASSERT(strcmp(paths_problem(backwards, 2, NULL), "paths out of order or repeated") == 0);
    ASSERT(strcmp(paths_problem(prefix_after, 2, NULL), "paths out of order or repeated") == 0);
    ASSERT(paths_problem(not_utf8, 3, right) == NULL);
    ASSERT(strcmp(paths_problem(not_utf8, 3, shared_wrong), "UTF-8 flags do not match the bytes") == 0);
    ASSERT(paths_problem(utf8, 3, utf8_right) == NULL);
    ASSERT(strcmp(paths_problem(utf8, 3, tail_wrong), "UTF-8 flags do not match the bytes") == 0);
}

TEST(manifest_owners_only_when_recorded)
{
    bd_mf_problem pr;
    const row rows[] = {{"a", BD_KIND_FILE, 4, S, S, 1, 0xA1, NULL}};
    bd_mf *m = make_mf(rows, 1, S);
    ASSERT(m);
    m->uid[0] = 1000;
    int without = table_ok(m, 0, 0, &pr);
    uint64_t where = pr.offset;
    int with = table_ok(m, 0, 1, &pr);
    bd_mf_free(m);
    ASSERT(!without);
    ASSERT_INT(where, ==, 16);  /* the uid column starts at 16 n */
    ASSERT(with);
}

TEST(manifest_link_hashes_copy_the_first_name)
{
    const row rows[] = {
        {"a", BD_KIND_FILE, 9, 5 * S, 6 * S, 1, 0xA1, NULL},
        {"b", BD_KIND_FILE, 4, S, S, 1, 0, "a"},
    };
    bd_mf *m = make_mf(rows, 2, 100 * S);
    uint32_t suspects[2];
    ASSERT(m);
    size_t k = bd_mf_reuse(m, NULL, suspects);
    bd_mf_link_hashes(m);
    int same = m->hash[32] == 0xA1 && m->size[1] == 9 && m->mtime_ns[1] == 5 * S && m->ctime_ns[1] == 6 * S;
    bd_mf_free(m);
    ASSERT_INT(k, ==, 1);  /* "b" is no suspect: it is "a" */
    ASSERT_INT(suspects[0], ==, 0);
    ASSERT(same);
}

TEST(manifest_hard_links_found_by_a_scan)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "a", "data", 4) == 0);
    ASSERT(sandbox_write(sb, "lone", "x", 1) == 0);
    ASSERT_OK(bd_dir_create_at(sb->dir, "d", 1, 0755, &e), &e);
    ASSERT_OK(bd_hardlink_at(sb->dir, "a", 1, sb->dir, "z", 1, &e), &e);
    bd_dir *d;
    ASSERT_OK(bd_dir_open_at(sb->dir, "d", 1, &d, &e), &e);
    bd_status rc = bd_hardlink_at(sb->dir, "a", 1, d, "b", 1, (bd_error_clear(&e), &e));
    bd_dir_close(d);
    ASSERT_INT(rc, ==, BD_OK);
    bd_scan *s;
    bd_mf *m;
    ASSERT_OK(bd_scan_tree(sb->path, 1, NULL, &s, &e), &e);
    rc = bd_mf_from_scan(s, 0, &m, (bd_error_clear(&e), &e));
    bd_scan_free(s);
    ASSERT_INT(rc, ==, BD_OK);
    /* a, d, d/b, lone, z */
    int n_ok = m->n == 5;
    int a_first = m->link_len[0] == 0, lone = m->link_len[3] == 0;
    int db = m->link_len[2] == 1 && m->links[m->link_off[2]] == 'a';
    int z = m->link_len[4] == 1 && m->links[m->link_off[4]] == 'a';
    bd_mf_problem pr;
    int ok = table_ok(m, 0, m->owners, &pr);
    bd_mf_free(m);
    ASSERT(n_ok);
    ASSERT(a_first);
    ASSERT(lone);
    ASSERT(db);
    ASSERT(z);
    ASSERT(ok);
}

/* Files whose other names are outside the scanned tree (a `cp -al` mirror beside it) are no
 * hard links; files with two names inside are, each group found once, whatever the order
 * their inodes come in. */
TEST(manifest_hard_links_beside_names_outside_the_tree)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT_OK(bd_dir_create_at(sb->dir, "t", 1, 0755, &e), &e);
    bd_dir *t;
    ASSERT_OK(bd_dir_open_at(sb->dir, "t", 1, &t, &e), &e);
    enum { FILES = 40 };
    char name[16], twin[16];
    bd_status rc = BD_OK;
    for (int i = 0; i < FILES && rc == BD_OK; i++) {
        snprintf(name, sizeof name, "t/f%02d", i);
        ASSERT(sandbox_write(sb, name, name, strlen(name)) == 0);
        snprintf(name, sizeof name, "f%02d", i);
        snprintf(twin, sizeof twin, "out%02d", i);  /* every file has a name outside t */
        rc = bd_hardlink_at(t, name, 3, sb->dir, twin, 5, (bd_error_clear(&e), &e));
        if (rc == BD_OK && i % 5 == 0) {  /* and every fifth a second name inside: g<i> */
            snprintf(twin, sizeof twin, "g%02d", i);
            rc = bd_hardlink_at(t, name, 3, t, twin, 3, (bd_error_clear(&e), &e));
        }
    }
    bd_scan *s = NULL;
    if (rc == BD_OK)
        rc = bd_scan_dir(t, 1, NULL, &s, (bd_error_clear(&e), &e));
    bd_dir_close(t);
    ASSERT_INT(rc, ==, BD_OK);
    bd_mf *m;
    rc = bd_mf_from_scan(s, 0, &m, (bd_error_clear(&e), &e));
    bd_scan_free(s);
    ASSERT_INT(rc, ==, BD_OK);
    /* f00..f39 (no links), then g00, g05, ..., g35 (each the link of its f) */
    int wrong = m->n != FILES + FILES / 5;
    for (size_t i = 0; !wrong && i < m->n; i++) {
        const char *p = m->paths + m->path_off[i];
        const char *l = m->links + m->link_off[i];
        if (i < FILES)
            wrong = p[0] != 'f' || m->link_len[i] != 0;
        else
            wrong = p[0] != 'g' || m->link_len[i] != 3 || l[0] != 'f' || memcmp(l + 1, p + 1, 2) != 0;
    }
    bd_mf_problem pr;
    int ok = table_ok(m, 0, m->owners, &pr);
    bd_mf_free(m);
    ASSERT(!wrong);
    ASSERT(ok);
}

/* A raw manifest filled with another's sections becomes the same manifest (no copy made of
 * them), and one whose lengths do not add up stays raw; a scan told to expect a size (too
 * small, right or absurdly large: only a hint) lists the same tree. */
TEST(manifest_from_raw_sections_and_sized_scans)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "a", "data", 4) == 0);
    ASSERT(sandbox_write(sb, "b", "more data", 9) == 0);
    ASSERT_OK(bd_dir_create_at(sb->dir, "d", 1, 0755, &e), &e);
    ASSERT(sandbox_write(sb, "d/c", "x", 1) == 0);
    bd_scan *s;
    bd_mf *m, *raw, *sized;
    ASSERT_OK(bd_scan_tree(sb->path, 1, NULL, &s, &e), &e);
    bd_status rc = bd_mf_from_scan(s, 7, &m, (bd_error_clear(&e), &e));
    bd_scan_free(s);
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT_OK(bd_mf_alloc_raw(m->table_len, m->cache_len, 1, &raw, &e), &e);
    memcpy(raw->table, m->table, m->table_len);
    memcpy(raw->cache, m->cache, m->cache_len);
    int refused = bd_mf_from_raw(raw, m->n + 1, 0, m->owners, 7, 9, (bd_error_clear(&e), &e)) == BD_E_INVAL
                  && raw->n == 0;
    rc = bd_mf_from_raw(raw, m->n, 0, m->owners, 7, 9, (bd_error_clear(&e), &e));
    int same = rc == BD_OK && raw->n == m->n && raw->path_off[m->n] == m->path_off[m->n]
               && memcmp(raw->hash, m->hash, 32 * m->n) == 0 && raw->file_id[2] == m->file_id[2]
               && raw->racy_window_ns == 9 && ((uintptr_t)raw->cache & 7) == 0;
    bd_mf_free(raw);
    size_t hints[][2] = {{1, 1}, {m->n, m->table_len}, {SIZE_MAX / 2, SIZE_MAX / 2}};
    int listed = 1;
    for (size_t h = 0; h < sizeof hints / sizeof hints[0]; h++) {
        rc = bd_scan_tree_sized(sb->path, 2, hints[h][0], hints[h][1], NULL, &s, (bd_error_clear(&e), &e));
        if (rc != BD_OK) {
            listed = 0;
            break;
        }
        rc = bd_mf_from_scan(s, 7, &sized, (bd_error_clear(&e), &e));
        bd_scan_free(s);
        listed = listed && rc == BD_OK && sized->table_len == m->table_len
                 && memcmp(sized->table, m->table, m->table_len) == 0;
        if (rc == BD_OK)
            bd_mf_free(sized);
    }
    bd_mf_free(m);
    ASSERT(refused);
    ASSERT(same);
    ASSERT(listed);
}

/* A manifest scanned with bd_mf_scan_tree (the scan's entries read through their sorted
 * order, never moved) equals the one built from a sorted scan, byte for byte: across
 * directories listed in several batches (256 entries each), "x" < "x-y" < "x.z" < "x/..."
 * orders, links, and hard links whose first name is in another batch. */
TEST(manifest_scan_tree_equals_a_sorted_scan)
{
    bd_error e;
    SANDBOX(sb);
    char name[32];
    ASSERT_OK(bd_dir_create_at(sb->dir, "w", 1, 0755, &e), &e);
    for (int i = 0; i < 700; i++) {  /* listed in three batches, written in reverse */
        snprintf(name, sizeof name, "w/f%03d", 699 - i);
        ASSERT(sandbox_write(sb, name, name, strlen(name)) == 0);
    }
    ASSERT_OK(bd_dir_create_at(sb->dir, "x", 1, 0755, &e), &e);
    ASSERT(sandbox_write(sb, "x-y", "1", 1) == 0);
    ASSERT(sandbox_write(sb, "x.z", "2", 1) == 0);
    ASSERT(sandbox_write(sb, "x/in", "3", 1) == 0);
    /* Wine cannot make a symlink (FSCTL_SET_REPARSE_POINT): there the tree has a file instead */
    if (test_wine_version())
        ASSERT(sandbox_write(sb, "x0", "w/f001", 6) == 0);
    else
        ASSERT_OK(bd_link_create_at(sb->dir, "x0", 2, "w/f001", 6, 0, &e), &e);
    bd_dir *w;
    ASSERT_OK(bd_dir_open_at(sb->dir, "w", 1, &w, &e), &e);
    bd_status rc = bd_hardlink_at(w, "f650", 4, sb->dir, "a-first", 7, (bd_error_clear(&e), &e));
    if (rc == BD_OK)
        rc = bd_hardlink_at(w, "f002", 4, w, "zz-last", 7, (bd_error_clear(&e), &e));
    bd_dir_close(w);
    ASSERT_INT(rc, ==, BD_OK);
    bd_scan *s;
    bd_mf *sorted, *gathered;
    ASSERT_OK(bd_scan_tree(sb->path, 2, NULL, &s, &e), &e);
    int was_sorted = bd_scan_sorted_order(s) == NULL;
    rc = bd_mf_from_scan(s, 7, &sorted, (bd_error_clear(&e), &e));
    bd_scan_free(s);
    ASSERT_INT(rc, ==, BD_OK);
    int equal = 1;
    for (unsigned threads = 1; threads <= 2 && equal; threads++) {
        rc = bd_mf_scan_tree(sb->path, threads, 0, 0, 7, NULL, &gathered, (bd_error_clear(&e), &e));
        equal = rc == BD_OK && gathered->n == sorted->n && gathered->table_len == sorted->table_len
                && memcmp(gathered->table, sorted->table, sorted->table_len) == 0
                && memcmp(gathered->cache, sorted->cache, sorted->cache_len) == 0
                && gathered->racy_window_ns == sorted->racy_window_ns
                && gathered->path_off[gathered->n] == sorted->path_off[sorted->n];
        if (rc == BD_OK)
            bd_mf_free(gathered);
    }
    size_t n = sorted->n;
    /* a-first, w, w/f000 .. w/f699, w/zz-last, x, x-y, x.z, x/in, x0 */
    int links = n == 700 + 8 && sorted->link_len[652] == 7      /* w/f650: a hard link of a-first */
                && sorted->link_len[702] == 6  /* w/zz-last */
                && sorted->link_len[n - 1] == (test_wine_version() ? 0 : 6);  /* x0 */
    bd_mf_problem pr;
    int valid = table_ok(sorted, 0, sorted->owners, &pr);
    bd_mf_free(sorted);
    ASSERT(was_sorted);
    ASSERT(equal);
    ASSERT(links);
    ASSERT(valid);
}

/* The names of a directory in the order its listing gives them. */
typedef struct listed_names {
    char names[1300][8];
    size_t n;
} listed_names;

static int note_name(void *ctx, const char *name, size_t name_len, const bd_stat *st)
{
    listed_names *l = ctx;
    (void)st;
    if (l->n < 1300 && name_len < sizeof l->names[0]) {
        memcpy(l->names[l->n], name, name_len);
        l->names[l->n++][name_len] = '\0';
    }
    return 0;
}

typedef struct remover {
    bd_dir *root;
    const char *victim;
    int removed;
} remover;

static int remove_once(const bd_progress *p, void *ctx)
{
    remover *r = ctx;
    (void)p;
    if (!r->removed)
        r->removed = remove_tree(r->root, r->victim) == 0 ? 1 : -1;
    return 0;
}

/* A directory removed between its listing and its opening is left out of a manifest
 * scanned with bd_mf_scan_tree too (its entry stays among the scan's, outside the sorted
 * order): 1000 files and 200 directories, the one removed listed before the first progress
 * call (the walk's 1024th entry, on one thread) and after more than 3/4 of
 * BD_SCAN_MAX_OPEN directories, so not opened while its parent is listed. */
TEST(manifest_scan_tree_leaves_out_a_directory_removed_before_its_opening)
{
    bd_error e;
    SANDBOX(sb);
    char name[32];
    for (int i = 0; i < 1200; i++) {  /* a directory every 6th: listed so in creation order too (XFS) */
        if (i % 6) {
            snprintf(name, sizeof name, "f%04d", i);
            ASSERT(sandbox_write(sb, name, "", 0) == 0);
            continue;
        }
        snprintf(name, sizeof name, "d%04d", i);
        ASSERT_OK(bd_dir_create_at(sb->dir, name, 5, 0755, &e), &e);
        snprintf(name, sizeof name, "d%04d/f", i);
        ASSERT(sandbox_write(sb, name, "x", 1) == 0);
    }
    listed_names *l = calloc(1, sizeof *l);
    ASSERT(l != NULL);
    ASSERT_OK(bd_dir_list(sb->dir, note_name, l, &e), &e);
    size_t victim = 0, dirs_before = 0;
    for (size_t i = 0; i < l->n && i < 1023; i++) {
        if (l->names[i][0] == 'd') {
            victim = i;
            dirs_before++;
        }
    }
    remover r = {sb->dir, l->names[victim], 0};
    bd_progress p;
    bd_progress_init(&p);
    p.fn = remove_once;
    p.ctx = &r;
    bd_mf *m = NULL;
    bd_status rc = dirs_before > 100 ? bd_mf_scan_tree(sb->path, 1, 0, 0, 7, &p, &m, (bd_error_clear(&e), &e))
                                     : BD_E_INVAL;
    int found = 0;
    size_t vlen = strlen(r.victim);
    for (size_t i = 0; rc == BD_OK && i < m->n; i++)
        found |= m->path_len[i] >= vlen && memcmp(m->paths + m->path_off[i], r.victim, vlen) == 0
                 && (m->path_len[i] == vlen || m->paths[m->path_off[i] + vlen] == '/');
    bd_mf_problem pr;
    int valid = rc == BD_OK && table_ok(m, 0, m->owners, &pr);
    size_t n = rc == BD_OK ? m->n : 0;
    if (rc == BD_OK)
        bd_mf_free(m);
    free(l);
    ASSERT(dirs_before > 100);
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT_INT(r.removed, ==, 1);
    ASSERT(!found);
    ASSERT_INT(n, ==, 1000 + 2 * 199);
    ASSERT(valid);
}

TEST(manifest_scan_tree_of_a_missing_root_fails)
{
    bd_error e;
    bd_mf *m = NULL;
    SANDBOX(sb);
    char path[4096];
    snprintf(path, sizeof path, "%s/missing", sb->path);
    bd_error_clear(&e);
    ASSERT_INT(bd_mf_scan_tree(path, 2, 0, 0, 7, NULL, &m, &e), !=, BD_OK);
    ASSERT(m == NULL);
}

/* bd_mf_diff of old and new as (old index, new index, what) triples, "o n w;" each. */
static void diff_text(const bd_mf *old_mf, const bd_mf *new_mf, char *out, size_t cap)
{
    bd_mf_change *ch = NULL;
    size_t n = 0, used = 0;
    bd_error e;
    bd_error_clear(&e);
    out[0] = 0;
    if (bd_mf_diff(old_mf, new_mf, &ch, &n, &e) != BD_OK) {
        snprintf(out, cap, "failed");
        return;
    }
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%d %d %u;", (int)ch[i].old_index,
                                 (int)ch[i].new_index, ch[i].what);
    bd_mf_changes_free(ch);
}

TEST(manifest_diff_after_reuse_pairs_rows_as_a_merge_would)
{
    /* Added, deleted and kept entries interleaved, at both ends too. */
    const row old_rows[] = {
        {"a", BD_KIND_FILE, 1, 10 * S, 10 * S, 1, 0x11, NULL},    /* deleted first */
        {"b", BD_KIND_DIR, 0, 10 * S, 10 * S, 2, 0, NULL},
        {"b/c", BD_KIND_FILE, 2, 10 * S, 10 * S, 3, 0x22, NULL},
        {"b/e", BD_KIND_FILE, 3, 10 * S, 10 * S, 4, 0x33, NULL},  /* deleted after an added b/d */
        {"f", BD_KIND_FILE, 4, 10 * S, 10 * S, 5, 0x44, NULL},    /* modified */
        {"h", BD_KIND_FILE, 5, 10 * S, 10 * S, 6, 0x55, NULL},
        {"z", BD_KIND_FILE, 6, 10 * S, 10 * S, 7, 0x66, NULL},    /* deleted last */
    };
    const row new_rows[] = {
        {"0", BD_KIND_FILE, 1, 10 * S, 10 * S, 8, 0x77, NULL},    /* added first */
        {"b", BD_KIND_DIR, 0, 10 * S, 10 * S, 2, 0, NULL},
        {"b/c", BD_KIND_FILE, 2, 10 * S, 10 * S, 3, 0x22, NULL},
        {"b/d", BD_KIND_FILE, 3, 10 * S, 10 * S, 9, 0x33, NULL},
        {"f", BD_KIND_FILE, 9, 10 * S, 10 * S, 5, 0x45, NULL},
        {"g", BD_KIND_FILE, 9, 10 * S, 10 * S, 10, 0x88, NULL},   /* added between kept ones */
        {"h", BD_KIND_FILE, 5, 10 * S, 10 * S, 6, 0x55, NULL},
        {"y", BD_KIND_FILE, 5, 10 * S, 10 * S, 11, 0x99, NULL},   /* added before a deleted z */
    };
    /* Another old table with other paths, made after new was paired with old. */
    const row other_rows[] = {
        {"b", BD_KIND_DIR, 0, 10 * S, 10 * S, 2, 0, NULL},
        {"g", BD_KIND_FILE, 9, 10 * S, 10 * S, 10, 0x88, NULL},
    };
    bd_mf *old_mf = make_mf(old_rows, 7, 100 * S), *new_mf = make_mf(new_rows, 8, 200 * S);
    bd_mf *plain_new = make_mf(new_rows, 8, 200 * S), *other = make_mf(other_rows, 2, 100 * S);
    ASSERT(old_mf && new_mf && plain_new && other);
    uint32_t idx[8];
    bd_mf_reuse(new_mf, old_mf, idx);  /* new_mf's rows paired with old_mf's */
    char paired[512], merged[512], other_paired[512], other_merged[512];
    diff_text(old_mf, new_mf, paired, sizeof paired);
    diff_text(old_mf, plain_new, merged, sizeof merged);
    diff_text(other, new_mf, other_paired, sizeof other_paired);
    diff_text(other, plain_new, other_merged, sizeof other_merged);
    int was_paired = new_mf->pair != NULL && new_mf->paired_with == old_mf->serial;
    bd_mf_free(old_mf);
    bd_mf_free(new_mf);
    bd_mf_free(plain_new);
    bd_mf_free(other);
    ASSERT(was_paired);
    /* old 0 a, 3 b/e, 6 z deleted; new 0 0, 3 b/d, 5 g, 7 y added; f modified */
    ASSERT_STR(merged, "-1 0 1;0 -1 2;-1 3 1;3 -1 2;4 4 4;-1 5 1;-1 7 1;6 -1 2;");
    ASSERT_STR(paired, merged);
    ASSERT_STR(other_paired, other_merged);
}
