/* test_manifest.c: the racy rule and the copy rule on manifests built in memory. */
#include <string.h>

#include "test.h"
#include "bodega/bd_manifest.h"

/* One entry of a manifest made by make_mf: a file's hash is 32 bytes of hash_byte. */
typedef struct row {
    const char *path;
    uint8_t kind;
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    uint64_t file_id;
    uint8_t hash_byte;
} row;

/* A full manifest with a stat cache of the n rows (sorted by path), or NULL. */
static bd_mf *make_mf(const row *rows, size_t n, int64_t scan_start_ns)
{
    size_t paths_len = 0;
    for (size_t i = 0; i < n; i++)
        paths_len += strlen(rows[i].path);
    bd_mf *m;
    bd_error e;
    bd_error_clear(&e);
    if (bd_mf_alloc(n, paths_len, 0, 1, &m, &e) != BD_OK)
        return NULL;
    for (size_t i = 0; i < n; i++)
        m->path_len[i] = (uint32_t)strlen(rows[i].path);
    bd_mf_index(m);
    for (size_t i = 0; i < n; i++) {
        memcpy(m->paths + m->path_off[i], rows[i].path, m->path_len[i]);
        m->kind[i] = rows[i].kind;
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
        {"changed", BD_KIND_FILE, 4, 10 * S, 10 * S, 1, 0xC1},
        {"old", BD_KIND_FILE, 4, 10 * S, 10 * S, 2, 0xA1},
        {"racy", BD_KIND_FILE, 4, 10 * S, 99 * S + S / 2, 3, 0xB1},
    };
    const row cur_rows[] = {
        {"changed", BD_KIND_FILE, 4, 10 * S, 150 * S, 1, 0},  /* rewritten, mtime kept */
        {"dir", BD_KIND_DIR, 0, 10 * S, 10 * S, 9, 0},
        {"old", BD_KIND_FILE, 4, 10 * S, 10 * S, 2, 0},
        {"racy", BD_KIND_FILE, 4, 10 * S, 99 * S + S / 2, 3, 0},
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
        {"a", BD_KIND_FILE, 4, 10 * S, 10 * S, 1, 0xA1},   /* vouched, copied as is */
        {"b", BD_KIND_FILE, 4, 10 * S, 10 * S, 2, 0xB1},   /* not vouched */
        {"c", BD_KIND_FILE, 4, 10 * S, 10 * S, 3, 0xC1},   /* vouched, the copy's size differs */
        {"d", BD_KIND_FILE, 4, 10 * S, 10 * S, 4, 0xD1},   /* vouched, the copy's mtime differs */
        {"dir", BD_KIND_DIR, 0, 10 * S, 10 * S, 5, 0},
        {"e", BD_KIND_FILE, 4, 10 * S, 10 * S, 6, 0xE1},   /* vouched, not in the copy */
        {"g", BD_KIND_DIR, 0, 10 * S, 10 * S, 7, 0},       /* a directory, a file in the copy */
    };
    const row copy_rows[] = {
        {"a", BD_KIND_FILE, 4, 10 * S, 500 * S, 11, 0},
        {"b", BD_KIND_FILE, 4, 10 * S, 500 * S, 12, 0},
        {"c", BD_KIND_FILE, 5, 10 * S, 500 * S, 13, 0},
        {"d", BD_KIND_FILE, 4, 11 * S, 500 * S, 14, 0},
        {"dir", BD_KIND_DIR, 0, 10 * S, 500 * S, 15, 0},
        {"f", BD_KIND_FILE, 4, 10 * S, 500 * S, 16, 0},    /* not in the source */
        {"g", BD_KIND_FILE, 0, 10 * S, 500 * S, 17, 0},
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

TEST(manifest_reuse_copy_of_an_empty_source_reads_every_file)
{
    const row copy_rows[] = {
        {"a", BD_KIND_FILE, 4, 10 * S, 500 * S, 11, 0},
        {"b", BD_KIND_SYMLINK, 1, 10 * S, 500 * S, 12, 0},
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
