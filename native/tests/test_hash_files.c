/* test_hash_files.c: hashing a batch of files; what a job asks of the page cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_hash.h"
#include "test.h"

/* A file of size bytes at sb/name, written back, and its BLAKE3 hash in out. */
static int written_back(sandbox *sb, const char *name, size_t size, unsigned seed, uint8_t out[BD_HASH_LEN])
{
    uint8_t *data = malloc(size);
    if (!data)
        return -1;
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)((i * 31 + seed) ^ (i >> 9));
    bd_blake3 h;
    bd_blake3_init(&h);
    bd_blake3_update(&h, data, size);
    bd_blake3_finalize(&h, out, BD_HASH_LEN);
    int rc = sandbox_write(sb, name, data, size) == 0 && sandbox_sync(sb, name) == 0 ? 0 : -1;
    free(data);
    return rc;
}

TEST(hash_files_drops_the_pages_of_jobs_that_ask_and_only_theirs)
{
    /* Sizes on each of the batch's paths: a small file read whole, one hashed on its worker,
     * one of 8 MiB and more hashed afterwards on every thread.  Each is there twice, one
     * copy asking for its pages to be dropped: that copy has none cached after, the other
     * keeps them, and both get the right hash. */
    static const size_t sizes[] = {3000, (1 << 20) + 11, ((size_t)9 << 20) + 5};
    enum { KINDS = sizeof sizes / sizeof sizes[0], N = 2 * KINDS };
    bd_error e;
    SANDBOX(sb);
    char names[N][8];
    uint8_t want[N][BD_HASH_LEN];
    bd_hash_job jobs[N];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        ASSERT_INT(written_back(sb, names[i], sizes[i % KINDS], (unsigned)i, want[i]), ==, 0);
        jobs[i].path = names[i];
        jobs[i].path_len = strlen(names[i]);
        jobs[i].drop_cached = i >= KINDS;
    }
    bd_error_clear(&e);
    ASSERT_OK(bd_hash_files(sb->dir, jobs, N, 2, 0, &e), &e);
    for (int i = 0; i < N; i++) {
        ASSERT_INT(jobs[i].status, ==, BD_OK);
        ASSERT(memcmp(jobs[i].hash, want[i], BD_HASH_LEN) == 0);
#ifndef _WIN32
        long resident = resident_pages(sb, names[i]);
        if (jobs[i].drop_cached)
            ASSERT_INT(resident, ==, 0);
        else
            ASSERT(resident > 0);
#endif
    }
}
