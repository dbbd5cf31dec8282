# bd.pxd: extern declarations mirroring native/include/bodega/*.h, and nothing else.
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t

cdef extern from "bodega/bd_status.h" nogil:
    ctypedef enum bd_status:
        BD_OK
        BD_E_IO
        BD_E_NOMEM
        BD_E_NOTSUP
        BD_E_XDEV
        BD_E_UNSAFE_PATH
        BD_E_CORRUPT
        BD_E_CANCELLED
        BD_E_INVAL
        BD_E_CHANGED
        BD_E_SPECIAL

    enum:
        BD_PATH_AS_GIVEN
        BD_PATH_SRC
        BD_PATH_DST
        BD_ERR_PATH_MAX

    ctypedef struct bd_error:
        bd_status code
        int sys_errno
        unsigned long win_error
        const char *op
        int path_base
        int path_truncated
        char path[4096]

    const char *bd_status_name(bd_status code)
    void bd_error_clear(bd_error *e)


cdef extern from "bodega/bd_progress.h" nogil:
    ctypedef struct bd_progress
    ctypedef int (*bd_progress_fn)(const bd_progress *p, void *ctx) noexcept

    ctypedef struct bd_progress:
        uint64_t files_total
        uint64_t bytes_total
        uint64_t files_done
        uint64_t bytes_done
        uint64_t bytes_cloned
        uint64_t bytes_copied
        int cancel
        uint64_t interval_ns
        bd_progress_fn fn
        void *ctx

    void bd_progress_init(bd_progress *p)
    void bd_progress_cancel(bd_progress *p)
    uint64_t bd_now_ns()


cdef extern from "bodega/bd_platform.h" nogil:
    ctypedef struct bd_stat:
        uint8_t kind
        uint32_t mode
        uint32_t attrs
        uint32_t reparse_tag
        uint32_t nlink
        uint32_t uid
        uint32_t gid
        uint64_t size
        uint64_t alloc_size
        int64_t mtime_ns
        int64_t ctime_ns
        uint64_t volume_id
        uint64_t file_id
        uint64_t file_id_hi

    ctypedef struct bd_dir

    bd_status bd_dir_open(const char *path, bd_dir **out, bd_error *e)
    void bd_dir_close(bd_dir *d)


cdef extern from "bodega/bd_hash.h" nogil:
    enum:
        BD_HASH_LEN
        BD_BLAKE3_KEY_LEN

    ctypedef struct bd_blake3:
        pass

    void bd_blake3_init(bd_blake3 *h)
    void bd_blake3_init_keyed(bd_blake3 *h, const uint8_t *key)
    void bd_blake3_init_derive_key(bd_blake3 *h, const char *context, size_t context_len)
    void bd_blake3_update(bd_blake3 *h, const void *data, size_t len)
    void bd_blake3_finalize(const bd_blake3 *h, uint8_t *out, size_t out_len)

    ctypedef enum bd_blake3_impl:
        BD_BLAKE3_PORTABLE
        BD_BLAKE3_SSE41
        BD_BLAKE3_AVX2
        BD_BLAKE3_AVX512
        BD_BLAKE3_IMPL_COUNT

    int bd_blake3_impl_available(bd_blake3_impl impl)
    bd_blake3_impl bd_blake3_impl_current()
    const char *bd_blake3_impl_name(bd_blake3_impl impl)
    bd_status bd_blake3_use(bd_blake3_impl impl, bd_error *e)

    bd_status bd_hash_file(bd_dir *d, const char *name, size_t name_len, unsigned threads,
                           uint8_t *out, bd_stat *st, bd_progress *p, bd_error *e)

    ctypedef struct bd_hash_job:
        const char *path
        size_t path_len
        bd_status status
        int sys_errno
        const char *op
        uint8_t hash[32]
        bd_stat st

    bd_status bd_hash_files(bd_dir *root, bd_hash_job *jobs, size_t n, unsigned threads,
                            bd_progress *p, bd_error *e)


cdef extern from "bodega/bd_chunk.h" nogil:
    enum:
        BD_CHUNK_GEAR_VERSION
        BD_CHUNK_MIN_DEFAULT
        BD_CHUNK_AVG_DEFAULT
        BD_CHUNK_MAX_DEFAULT
        BD_CHUNK_LEVEL_DEFAULT
        BD_CHUNK_SIZE_FLOOR
        BD_CHUNK_SIZE_CEILING
        BD_CHUNK_LEVEL_MAX

    ctypedef struct bd_chunk_params:
        uint32_t min_size
        uint32_t avg_size
        uint32_t max_size
        uint32_t level

    ctypedef struct bd_chunker:
        bd_chunk_params params

    bd_status bd_chunk_params_check(const bd_chunk_params *p, bd_error *e)
    bd_status bd_chunker_init(bd_chunker *c, const bd_chunk_params *p, bd_error *e)
    size_t bd_chunker_find(bd_chunker *c, const uint8_t *data, size_t len, int at_end)

    ctypedef struct bd_chunk:
        uint64_t offset
        uint64_t length
        uint8_t hash[32]

    ctypedef int (*bd_chunk_fn)(void *ctx, const bd_chunk *chunk, const uint8_t *data) noexcept

    bd_status bd_chunk_file(bd_dir *d, const char *name, size_t name_len, const bd_chunk_params *params,
                            bd_chunk_fn fn, void *ctx, uint8_t *file_hash, bd_stat *st,
                            bd_progress *p, bd_error *e)
