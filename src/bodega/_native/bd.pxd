# bd.pxd: extern declarations mirroring native/include/bodega/*.h, and nothing else.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t

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
    void bd_error_set_path(bd_error *e, int path_base, const char *path, size_t path_len)


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
    ctypedef enum bd_kind:
        BD_KIND_NONE
        BD_KIND_FILE
        BD_KIND_DIR
        BD_KIND_SYMLINK
        BD_KIND_REPARSE
        BD_KIND_SPECIAL

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
    ctypedef struct bd_file

    bd_status bd_dir_open(const char *path, bd_dir **out, bd_error *e)
    void bd_dir_close(bd_dir *d)
    bd_status bd_dir_open_at(bd_dir *parent, const char *name, size_t name_len, bd_dir **out, bd_error *e)
    bd_status bd_dir_stat(bd_dir *d, bd_stat *out, bd_error *e)
    ctypedef int (*bd_dir_entry_fn)(void *ctx, const char *name, size_t name_len, const bd_stat *st) noexcept
    bd_status bd_dir_list(bd_dir *d, bd_dir_entry_fn fn, void *ctx, bd_error *e)
    bd_status bd_dir_create_at(bd_dir *parent, const char *name, size_t name_len, uint32_t mode, bd_error *e)
    bd_status bd_dir_sync(bd_dir *d, bd_error *e)
    bd_status bd_stat_at(bd_dir *d, const char *name, size_t name_len, bd_stat *out, bd_error *e)
    bd_status bd_link_read_at(bd_dir *d, const char *name, size_t name_len, char *buf, size_t cap,
                              size_t *len, bd_error *e)
    enum:
        BD_LINK_DIR
        BD_RENAME_NOREPLACE
        BD_RENAME_EXCHANGE
        BD_META_MODE
        BD_META_TIMES
        BD_META_OWNER
        BD_META_XATTRS
        BD_META_ALL
    bd_status bd_link_create_at(bd_dir *d, const char *name, size_t name_len, const char *target,
                                size_t target_len, uint32_t flags, bd_error *e)
    bd_status bd_hardlink_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                             const char *dst_name, size_t dst_len, bd_error *e)
    bd_status bd_rename_at(bd_dir *from_dir, const char *from_name, size_t from_len, bd_dir *to_dir,
                           const char *to_name, size_t to_len, uint32_t flags, bd_error *e)
    bd_status bd_unlink_at(bd_dir *d, const char *name, size_t name_len, int is_dir, bd_error *e)
    bd_status bd_file_open_read(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                                bd_stat *st, bd_error *e)
    bd_status bd_file_pread(bd_file *f, void *buf, size_t cap, uint64_t offset, size_t *n, bd_error *e)
    bd_status bd_file_stat(bd_file *f, bd_stat *out, bd_error *e)
    void bd_file_close(bd_file *f)
    bd_status bd_file_create_at(bd_dir *d, const char *name, size_t name_len, bd_file **out, bd_error *e)
    bd_status bd_file_write(bd_file *f, const void *buf, size_t n, bd_error *e)
    bd_status bd_file_sync(bd_file *f, bd_error *e)
    bd_status bd_meta_set_at(bd_dir *d, const char *name, size_t name_len, const bd_stat *st,
                             uint32_t which, bd_error *e)
    bd_status bd_file_set_meta(bd_file *f, const bd_stat *st, uint32_t which, bd_error *e)
    bd_status bd_dir_set_meta(bd_dir *d, const bd_stat *st, uint32_t which, bd_error *e)
    int bd_owner_settable()
    bd_status bd_volume_sync(bd_dir *d, bd_error *e)


cdef extern from "bodega/bd_lock.h" nogil:
    bd_status bd_file_lock(bd_file *f, int exclusive, int *taken, bd_error *e)


cdef extern from "bodega/bd_file.h" nogil:
    bd_status bd_file_create_mode_at(bd_dir *d, const char *name, size_t name_len, uint32_t mode,
                                     bd_file **out, bd_error *e)
    bd_status bd_file_open_write_at(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                                    bd_stat *st, bd_error *e)


cdef extern from "bodega/bd_sync.h" nogil:
    bd_status bd_file_sync_at(bd_dir *d, const char *name, size_t name_len, bd_error *e)


cdef extern from "bodega/bd_remove.h" nogil:
    bd_status bd_remove_tree(bd_dir *parent, const char *name, size_t name_len, bd_progress *p,
                             bd_error *e)


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
    void bd_blake3_hash_messages(const uint8_t *const *msgs, const size_t *lens, size_t n, uint8_t *out)

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
        uint8_t *keep
        size_t keep_cap
        int kept
        int drop_cached

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


cdef extern from "bodega/bd_scan.h" nogil:
    enum:
        BD_SCAN_NO_PARENT
        BD_SCAN_MAX_THREADS

    ctypedef struct bd_scan_entry:
        uint64_t path_off
        uint64_t size
        uint64_t alloc_size
        int64_t mtime_ns
        int64_t ctime_ns
        uint64_t file_id
        uint64_t file_id_hi
        uint32_t path_len
        uint32_t link_len
        uint32_t mode
        uint32_t nlink
        uint32_t attrs
        uint32_t reparse_tag
        uint32_t uid
        uint32_t gid
        uint32_t parent
        uint16_t volume
        uint8_t kind

    ctypedef struct bd_scan

    bd_status bd_scan_tree(const char *root_path, unsigned threads, bd_progress *p,
                           bd_scan **out, bd_error *e)
    bd_status bd_scan_tree_sized(const char *root_path, unsigned threads, size_t expect_entries,
                                 size_t expect_bytes, bd_progress *p, bd_scan **out, bd_error *e)
    void bd_scan_free(bd_scan *s)
    size_t bd_scan_count(const bd_scan *s)
    const bd_scan_entry *bd_scan_entries(const bd_scan *s)
    const char *bd_scan_arena(const bd_scan *s)
    uint64_t bd_scan_volume_id(const bd_scan *s, uint16_t volume)
    size_t bd_scan_nbytes(const bd_scan *s)


cdef extern from "bodega/bd_status.h" nogil:
    bd_status bd_fail_n(bd_error *e, bd_status code, int sys_errno, const char *op,
                        int path_base, const char *path, size_t path_len)


cdef extern from "bodega/bd_manifest.h" nogil:
    enum:
        BD_MF_ROW_BYTES
        BD_MF_CACHE_ROW_BYTES
        BD_MF_NONE

    ctypedef struct bd_mf:
        size_t n
        int delta
        int owners
        uint8_t *table
        size_t table_len
        uint64_t *size
        int64_t *mtime_ns
        uint32_t *uid
        uint32_t *gid
        uint32_t *mode
        uint32_t *attrs
        uint32_t *path_len
        uint32_t *link_len
        uint8_t *kind
        uint8_t *hash
        char *paths
        char *links
        uint8_t *flags
        uint8_t *cache
        size_t cache_len
        int64_t *ctime_ns
        uint64_t *file_id
        uint64_t *file_id_hi
        uint64_t *volume_id
        int64_t scan_start_ns
        int64_t racy_window_ns
        uint64_t *path_off
        uint64_t *link_off

    ctypedef struct bd_mf_problem:
        uint64_t offset
        uint64_t entry
        int in_cache
        const char *what

    ctypedef struct bd_mf_change:
        uint32_t old_index
        uint32_t new_index
        uint32_t what

    void bd_mf_free(bd_mf *m)
    int bd_mf_check_sections(const uint8_t *table, size_t table_len, const uint8_t *cache,
                             size_t cache_len, uint64_t n, int delta, int owners, bd_mf_problem *problem)
    bd_status bd_mf_from_sections(const uint8_t *table, size_t table_len, const uint8_t *cache,
                                  size_t cache_len, size_t n, int delta, int owners, int64_t scan_start_ns,
                                  int64_t racy_window_ns, bd_mf **out, bd_error *e)
    bd_status bd_mf_alloc_raw(size_t table_len, size_t cache_len, int with_cache, bd_mf **out, bd_error *e)
    bd_status bd_mf_from_raw(bd_mf *m, size_t n, int delta, int owners, int64_t scan_start_ns,
                             int64_t racy_window_ns, bd_error *e)
    void bd_mf_link_hashes(bd_mf *m)
    bd_status bd_mf_from_scan(const bd_scan *s, int64_t scan_start_ns, bd_mf **out, bd_error *e)
    bd_status bd_mf_scan_tree(const char *root_path, unsigned threads, size_t expect_entries,
                              size_t expect_bytes, int64_t scan_start_ns, bd_progress *p, bd_mf **out,
                              bd_error *e)
    size_t bd_mf_reuse(bd_mf *cur, const bd_mf *prev, uint32_t *suspects)
    size_t bd_mf_reuse_copy(bd_mf *cur, const bd_mf *src, const uint8_t *vouched, uint32_t *suspects)
    size_t bd_mf_diff_unneeded(const bd_mf *cur, const bd_mf *prev, uint32_t *idx, size_t k)
    bd_status bd_mf_hash_files(bd_mf *m, bd_dir *root, const uint32_t *idx, size_t k,
                               bd_hash_job *jobs, unsigned threads, bd_progress *p, bd_error *e)
    void bd_mf_root(const bd_mf *m, uint8_t *out)
    size_t bd_mf_find(const bd_mf *m, const char *path, size_t len)
    bd_status bd_mf_diff(const bd_mf *old_mf, const bd_mf *new_mf, bd_mf_change **out,
                         size_t *count, bd_error *e)
    void bd_mf_changes_free(bd_mf_change *changes)
    bd_status bd_mf_delta(const bd_mf *base, const bd_mf *cur, bd_mf **out, bd_error *e)
    bd_status bd_mf_apply(const bd_mf *base, const bd_mf *delta, bd_mf **out, bd_error *e)
cdef extern from "bodega/bd_platform.h" nogil:
    ctypedef enum bd_copy_method:
        BD_METHOD_NONE
        BD_METHOD_CLONE
        BD_METHOD_KERNEL_COPY
        BD_METHOD_OS_COPY
        BD_METHOD_USER_COPY

    ctypedef struct bd_copy_result:
        uint32_t method
        uint64_t bytes_cloned
        uint64_t bytes_copied

    enum:
        BD_CLONE_AUTO
        BD_CLONE_REQUIRE
        BD_CLONE_NEVER
        BD_FS_CLONE

    ctypedef struct bd_fs_info:
        char fs_name[32]
        uint64_t volume_id
        uint32_t block_size
        uint32_t flags
        uint64_t bytes_total
        uint64_t bytes_free

    const char *bd_platform_features()
    bd_status bd_file_clone_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                               const char *dst_name, size_t dst_len, uint32_t flags,
                               bd_progress *p, bd_copy_result *r, bd_error *e)


cdef extern from "bodega/bd_clone.h" nogil:
    enum:
        BD_CLONE_MAX_THREADS

    ctypedef struct bd_clone_stats:
        uint64_t files
        uint64_t dirs
        uint64_t symlinks
        uint64_t hardlinks
        uint64_t specials
        uint64_t bytes
        uint64_t bytes_cloned
        uint64_t bytes_copied
        uint32_t methods
        unsigned threads
        char *special_paths
        size_t special_paths_len

    bd_status bd_clone_tree(const char *src_path, const char *dst_path, uint32_t flags,
                            unsigned threads, bd_progress *p, bd_clone_stats *out, bd_error *e)
    void bd_clone_stats_free(bd_clone_stats *s)
    bd_status bd_clone_file(const char *src_path, const char *dst_path, uint32_t flags,
                            bd_progress *p, bd_copy_result *r, bd_error *e)
    bd_status bd_probe_cow(const char *path, bd_fs_info *out, bd_error *e)
    ctypedef struct bd_clone_job:
        const char *path
        size_t path_len
        const char *dst_name
        size_t dst_len
        bd_status status
        int sys_errno
        const char *op
        bd_stat st
    bd_status bd_clone_files(bd_dir *src_root, bd_dir *dst, bd_clone_job *jobs, size_t n, unsigned threads,
                             bd_progress *p, bd_error *e)


cdef extern from "bodega/bd_fault.h" nogil:
    ctypedef enum bd_step:
        BD_STEP_CREATE
        BD_STEP_COMMIT

    enum:
        BD_STEP_KINDS

    ctypedef struct bd_fault_plan:
        pass

    bd_status bd_fault_step(bd_step kind, const char *name, size_t name_len, bd_error *e)
    int bd_fault_arm(const char *spec, const char *log)
    uint64_t bd_fault_count()
    const char *bd_step_name(int kind)
    bd_fault_plan *bd_fault_own_plan()
    void bd_fault_share(bd_fault_plan *plan)


cdef extern from "bodega/bd_process.h" nogil:
    enum:
        BD_NET_NONE
        BD_NET_HOST
        BD_BY_NONE
        BD_BY_CGROUP_V1
        BD_BY_CGROUP_V2
        BD_BY_RLIMIT
        BD_BY_JOB

    const char *BD_ROOT_VIEW

    ctypedef struct bd_bind:
        const char *source
        const char *target
        int read_only

    ctypedef struct bd_process_spec:
        const char *const *argv
        const char *const *env
        const char *cwd
        const char *root
        const bd_bind *binds
        size_t n_binds
        uint32_t network
        uint64_t memory_limit
        uint32_t cpu_millicores
        uint64_t time_limit_ms
        const char *sandbox_tool
        const char *cgroup_root

    ctypedef struct bd_process_result:
        int exited
        int exit_code
        int signal
        int timed_out
        int memory_killed
        uint64_t peak_memory
        uint64_t wall_ms
        uint32_t memory_by
        uint32_t cpu_by

    ctypedef struct bd_isolation:
        char tool[512]
        const char *root_view
        int binds
        int network_none
        uint32_t memory_by
        uint32_t cpu_by

    bd_status bd_process_run(const bd_process_spec *spec, bd_progress *p, bd_process_result *out, bd_error *e)
    bd_status bd_isolation_probe(const char *sandbox_tool, const char *cgroup_root, bd_isolation *out, bd_error *e)
    int bd_process_alive(uint64_t pid)
    bd_status bd_process_lower_priority(bd_error *e)


cdef extern from "bodega/bd_tar.h" nogil:
    ctypedef struct bd_tar_member:
        char type
        uint32_t mode
        int64_t mtime_ns
        uint64_t size
        size_t name_off
        size_t name_len
        size_t link_off
        size_t link_len
        size_t data_off
        int data_whole

    ctypedef struct bd_tar:
        char *names
        size_t names_len
        int ended

    bd_status bd_tar_read(bd_tar *t, const unsigned char *buf, size_t len, int eof, size_t max_whole,
                          bd_tar_member *out, size_t cap, size_t *count, size_t *used, size_t *need, bd_error *e)
    void bd_tar_free(bd_tar *t)


cdef extern from "bodega/bd_write.h" nogil:
    ctypedef struct bd_new_file:
        const char *path
        size_t path_len
        const void *data
        size_t size
        uint32_t mode
        int64_t mtime_ns
        int owner
        uint32_t uid, gid

    bd_status bd_files_write(bd_dir *root, const bd_new_file *files, size_t n, bd_stat *after, bd_progress *p,
                             size_t *done, bd_error *e)

    ctypedef struct bd_new_clone:
        const char *path
        size_t path_len
        const char *src
        size_t src_len
        uint8_t hash[32]
        uint32_t mode
        int64_t mtime_ns
        int owner
        uint32_t uid, gid
        bd_status status
        int sys_errno
        const char *op
        int at_source
        bd_stat st

    bd_status bd_clones_write(bd_dir *src_root, bd_dir *root, bd_new_clone *files, size_t n, bd_progress *p,
                              bd_error *e)

    ctypedef struct bd_new_dir:
        const char *path
        size_t path_len
        uint32_t mode
        int64_t mtime_ns
        int owner
        uint32_t uid, gid

    bd_status bd_dirs_create(bd_dir *root, const bd_new_dir *dirs, size_t n, uint32_t mode, bd_progress *p,
                             size_t *done, bd_error *e)
    bd_status bd_dirs_finish(bd_dir *root, const bd_new_dir *dirs, size_t n, bd_stat *after, bd_progress *p,
                             size_t *done, bd_error *e)
