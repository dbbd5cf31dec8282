/* bd_hash.h: BLAKE3 (the content hash of bodega) over memory, one file, and many files.
 *
 * The implementation follows the BLAKE3 specification (O'Connor, Aumasson, Neves,
 * Wilcox-O'Hearn, 2020): 1 KiB chunks of 64-byte blocks compressed with CHUNK_START /
 * CHUNK_END, a binary tree of chaining values whose left subtree is the largest power of
 * two of chunks, PARENT and ROOT flags, and an extendable output.  A portable C99 back end
 * is the reference; x86-64 builds with GCC or Clang add SSE4.1 (4-way), AVX2 (8-way) and
 * AVX-512 (16-way) back ends that hash many chunks (or parents) at once, picked at run
 * time from the CPU.  Every back end gives identical output (tests check each one).
 *
 * Files are read with large sequential preads (measured faster than mmap from a warm page
 * cache), never through a link, and checked for change: metadata taken from the open
 * handle before and after reading must agree on size, mtime and ctime, else BD_E_CHANGED.
 * A file whose stat says it is larger than what could be read is BD_E_CHANGED as well.
 */
#ifndef BODEGA_BD_HASH_H
#define BODEGA_BD_HASH_H

#include <stddef.h>
#include <stdint.h>
#include "bd_status.h"
#include "bd_progress.h"
#include "bd_platform.h"

#define BD_HASH_LEN 32            /* bytes of a bodega content hash (BLAKE3-256) */
#define BD_BLAKE3_KEY_LEN 32
#define BD_BLAKE3_BLOCK_LEN 64
#define BD_BLAKE3_CHUNK_LEN 1024
#define BD_BLAKE3_MAX_DEPTH 54    /* 2^54 chunks of 1 KiB = 2^64 bytes */

/* ---- the incremental hasher --------------------------------------------------------- */

/* State of one BLAKE3 hash.  Plain data: copy it (memcpy / assignment) to fork a hash.
 * The fields are private to blake3.c. */
typedef struct bd_blake3 {
    uint32_t key[8];
    uint32_t cv[8];            /* chaining value of the current chunk */
    uint64_t chunk_counter;    /* index of the current chunk in the whole input */
    uint64_t base_chunk;       /* first chunk of a subtree hasher (0 for a whole input) */
    uint8_t buf[BD_BLAKE3_BLOCK_LEN];
    uint8_t buf_len;
    uint8_t blocks_compressed;
    uint8_t flags;             /* KEYED_HASH / DERIVE_KEY_* for every compression */
    uint8_t stack_len;
    uint8_t stack[(BD_BLAKE3_MAX_DEPTH + 1) * 32];  /* chaining values of finished subtrees */
} bd_blake3;

/* Starts an ordinary hash. */
void bd_blake3_init(bd_blake3 *h);

/* Starts a keyed hash (BLAKE3's MAC mode). */
void bd_blake3_init_keyed(bd_blake3 *h, const uint8_t key[BD_BLAKE3_KEY_LEN]);

/* Starts a key derivation for the given context string (BLAKE3's KDF mode). */
void bd_blake3_init_derive_key(bd_blake3 *h, const char *context, size_t context_len);

/* Adds len bytes.  Any split of the input into updates gives the same hash. */
void bd_blake3_update(bd_blake3 *h, const void *data, size_t len);

/* Writes out_len bytes of output (any length: the first 32 are the hash, more extend it
 * as BLAKE3's XOF does).  Does not change h, so more input may follow. */
void bd_blake3_finalize(const bd_blake3 *h, uint8_t *out, size_t out_len);

/* Messages up to this size are hashed together by bd_blake3_hash_messages. */
#define BD_BLAKE3_SMALL_MAX (16 * 1024)

/* Hashes n whole messages (ordinary hash mode): out gets 32 bytes per message.  The chunks
 * of messages of at most BD_BLAKE3_SMALL_MAX bytes fill the SIMD lanes together, which is
 * what many small files need (one message alone has too few chunks to fill them); longer
 * messages are hashed one by one. */
void bd_blake3_hash_messages(const uint8_t *const *msgs, const size_t *lens, size_t n, uint8_t *out);

/* ---- subtrees: hashing parts of one input on several threads -------------------------
 *
 * A part of 2^k chunks (k >= 1) starting at a chunk index that is a multiple of 2^k is a
 * complete subtree of the BLAKE3 tree.  A worker hashes it with a subtree hasher and gets
 * the chaining values of its two halves (the "pair"); the owner of the whole hash pushes
 * the pairs in input order into its own hasher, then updates it with the rest.  The result
 * is exactly the hash of the whole input. */

/* Starts a hasher like `like` (same mode and key) for the subtree that begins at input
 * byte offset `offset` (a multiple of the subtree's size, which must be a power of two
 * number of chunks). */
void bd_blake3_init_subtree(bd_blake3 *h, const bd_blake3 *like, uint64_t offset);

/* Ends a subtree hasher: pair gets the chaining values of the two halves.  BD_E_INVAL
 * when the input fed was not 2^k full chunks with k >= 1. */
bd_status bd_blake3_finalize_subtree(const bd_blake3 *h, uint8_t pair[2 * BD_HASH_LEN], bd_error *e);

/* Appends a subtree of `chunks` chunks (a power of two, >= 2) given by its pair.  BD_E_INVAL
 * unless h's input so far is a multiple of the subtree's size. */
bd_status bd_blake3_push_subtree(bd_blake3 *h, const uint8_t pair[2 * BD_HASH_LEN], uint64_t chunks,
                                 bd_error *e);

/* ---- back ends ---------------------------------------------------------------------- */

typedef enum bd_blake3_impl {
    BD_BLAKE3_PORTABLE = 0,
    BD_BLAKE3_SSE41 = 1,
    BD_BLAKE3_AVX2 = 2,
    BD_BLAKE3_AVX512 = 3,
    BD_BLAKE3_IMPL_COUNT = 4
} bd_blake3_impl;

/* 1 when this build has the back end and this CPU can run it. */
int bd_blake3_impl_available(bd_blake3_impl impl);

/* The back end in use (the best available unless bd_blake3_use chose another). */
bd_blake3_impl bd_blake3_impl_current(void);

/* "portable", "sse41", "avx2", "avx512"; "?" for an unknown value. */
const char *bd_blake3_impl_name(bd_blake3_impl impl);

/* Makes every later hash in the process use impl (for tests and benchmarks; all back ends
 * give the same output).  BD_E_NOTSUP when it is not available. */
bd_status bd_blake3_use(bd_blake3_impl impl, bd_error *e);

/* ---- files -------------------------------------------------------------------------- */

/* Hashes the regular file `name` in d (one component, never through a link) with up to
 * `threads` threads (0: one per CPU; large files are split into subtrees hashed in
 * parallel).  out gets the hash, st (may be NULL) the file's metadata from the open
 * handle.  Errors: BD_E_UNSAFE_PATH for a link, BD_E_SPECIAL for a fifo/socket/device
 * (never opened for reading, so never blocks), BD_E_IO with errno (ENOENT, EACCES,
 * EISDIR...), BD_E_CHANGED when the file changed while being read, BD_E_CANCELLED.
 * p (may be NULL) gets bytes_done and one file; it is ticked from the calling thread. */
bd_status bd_hash_file(bd_dir *d, const char *name, size_t name_len, unsigned threads,
                       uint8_t out[BD_HASH_LEN], bd_stat *st, bd_progress *p, bd_error *e);

/* One file of a batch: the caller fills path; bd_hash_files fills the rest. */
typedef struct bd_hash_job {
    const char *path;       /* in: relative to the root, '/'-separated single components */
    size_t path_len;
    bd_status status;       /* out: BD_OK, or why this file could not be hashed */
    int sys_errno;          /* out: errno of a BD_E_IO failure */
    const char *op;         /* out: static name of the failing step, NULL when BD_OK */
    uint8_t hash[BD_HASH_LEN]; /* out when BD_OK */
    bd_stat st;             /* out when BD_OK: metadata from the open handle */
    uint8_t *keep;          /* in: when not NULL, a file of at most keep_cap bytes is also */
    size_t keep_cap;        /*     copied here, from the very read that hashed it */
    int kept;               /* out: 1 when keep holds the file's st.size bytes */
    int drop_cached;        /* in: 1 drops the file's pages from the cache once hashed (a
                               store's fresh clone: read once, its pages nobody else's) */
} bd_hash_job;

/* Hashes every job's file under root on up to `threads` threads (0: one per CPU).  Each
 * path component is opened relative to its parent without following links; each worker
 * keeps the directories of its last path open, so sorted paths open each directory about
 * once per worker.  Files of 8 MiB and more are hashed afterwards, each on all threads.
 * Jobs with keep get their bytes too (what a store needs: content and hash from one read).
 * Jobs with drop_cached leave no pages in the cache once hashed.
 * A file that fails gets its own status (same codes as bd_hash_file) and the batch goes
 * on.  Returns BD_OK once every job has a status, BD_E_CANCELLED when cancelled (jobs not
 * reached keep status BD_E_CANCELLED), BD_E_NOMEM / BD_E_IO when the workers could not
 * start.  p gets files_total = n, bytes_done and files_done (also for failed files), and
 * a last forced tick once all is done. */
bd_status bd_hash_files(bd_dir *root, bd_hash_job *jobs, size_t n, unsigned threads,
                        bd_progress *p, bd_error *e);

#endif
