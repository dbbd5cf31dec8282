/* clone.c (POSIX): a file's data into a new file, cloned where the volume can.
 *
 * Linux, tried in order (BD_CLONE_AUTO):
 *   1. ioctl(FICLONE): the whole file shares its extents (XFS reflink=1, btrfs, ...).
 *   2. copy_file_range over the source's data segments, at most CHUNK bytes per call (the
 *      kernel copies; on XFS/btrfs it may share extents itself, but says nothing, so the bytes
 *      count as copied).
 *   3. pread/pwrite over the data segments.
 * Holes are found with SEEK_DATA/SEEK_HOLE (only for files whose allocation is smaller than
 * their size), skipped, and the size set at the end, so a sparse file stays sparse.
 * "Not possible here" errors (EOPNOTSUPP, EXDEV, EINVAL, ...) move on to the next method;
 * EIO, ENOSPC, EDQUOT and the like end the clone.  BD_CLONE_REQUIRE stops after 1,
 * BD_CLONE_NEVER goes straight to 3 (a real copy even where copy_file_range would share).
 * macOS: fclonefileat, else the read/write copy.
 *
 * The destination is created exclusively with the source's permission bits (umask applied)
 * and removed again on any failure or cancel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/ioctl.h>
#include <linux/fs.h>
#endif
#ifdef __APPLE__
#include <sys/clonefile.h>
#endif

#include "posix.h"
#include "bodega/bd_thread.h"

#define CHUNK (64ULL << 20)   /* bytes per copy_file_range call: <= 1 GiB (glibc PR33245), and
                                 small enough for cancel and progress to stay responsive */
#define COPY_BUF (1u << 20)

#define NO_FICLONE 0x1
#define NO_COPY_RANGE 0x2

typedef struct clone_job {
    int in, out;
    uint64_t size;
    const char *name;      /* for errors: the source name */
    bd_progress *p;
    uint64_t cloned, copied;
    uint32_t method;
} clone_job;

/* Errors after which another method may still work (coreutils' is_CLONENOTSUP, plus ENOENT
 * from CIFS); everything else (EIO, ENOSPC, EDQUOT, ENOMEM, ...) is the file's fate. */
static int method_unsupported(int err)
{
    switch (err) {
    case ENOSYS: case ENOTTY: case EOPNOTSUPP:
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
    case EINVAL: case EBADF: case EXDEV: case ETXTBSY: case EPERM: case EACCES: case ENOENT:
        return 1;
    default:
        return 0;
    }
}

#ifdef __linux__
static int learned(bd_dir *dst, uint64_t src_dev, int bit)
{
    return bd_atomic_load_u64(&dst->no_clone_dev) == src_dev + 1
        && (bd_atomic_load_int(&dst->no_clone) & bit);
}

static void learn(bd_dir *dst, uint64_t src_dev, int bit)
{
    if (bd_atomic_exchange_u64(&dst->no_clone_dev, src_dev + 1) != src_dev + 1)
        bd_atomic_store_int(&dst->no_clone, 0);
    bd_atomic_fetch_or_int(&dst->no_clone, bit);
}
#endif

/* Accounts n more bytes and checks for cancel (the calling thread's checkpoint). */
static bd_status advance(clone_job *j, uint64_t n, uint64_t cloned, uint64_t copied, bd_error *e)
{
    j->cloned += cloned;
    j->copied += copied;
    bd_progress_add(j->p, 0, n);
    bd_progress_add_io(j->p, cloned, copied);
    return bd_progress_tick(j->p, 0, e);
}

static bd_status io_failed(int err, const char *op, const char *name, bd_error *e)
{
    return bd_fail(e, BD_E_IO, err, op, BD_PATH_AS_GIVEN, name);
}

/* ---- data segments ------------------------------------------------------------------ */

/* Finds the next data segment at or after *off: [*off, *end).  0 when there is none left.
 * Files that are fully allocated are one segment without any lseek. */
static int next_segment(clone_job *j, int sparse, uint64_t *off, uint64_t *end)
{
    if (*off >= j->size)
        return 0;
#ifdef SEEK_DATA
    if (sparse) {
        off_t d = lseek(j->in, (off_t)*off, SEEK_DATA);
        if (d < 0)  /* ENXIO: only a hole remains; other errors: no hole support, copy all */
            return errno == ENXIO ? 0 : (*end = j->size, 1);
        off_t h = lseek(j->in, d, SEEK_HOLE);
        *off = (uint64_t)d;
        *end = h < 0 || (uint64_t)h > j->size ? j->size : (uint64_t)h;
        return *off < j->size;
    }
#else
    (void)sparse;
#endif
    *end = j->size;
    return 1;
}

/* pread/pwrite of [off, end). */
static bd_status copy_user(clone_job *j, uint64_t off, uint64_t end, char *buf, bd_error *e)
{
    while (off < end) {
        size_t want = end - off < COPY_BUF ? (size_t)(end - off) : COPY_BUF;
        ssize_t got = pread(j->in, buf, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return io_failed(errno, "read", j->name, e);
        if (got == 0)  /* the source shrank: keep what it has */
            return BD_OK;
        for (ssize_t put = 0; put < got;) {
            ssize_t w = pwrite(j->out, buf + put, (size_t)(got - put), (off_t)(off + (uint64_t)put));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return io_failed(errno, "write", j->name, e);
            put += w;
        }
        off += (uint64_t)got;
        bd_status rc = advance(j, (uint64_t)got, 0, (uint64_t)got, e);
        if (rc)
            return rc;
    }
    return BD_OK;
}

#ifdef __linux__
/* copy_file_range of [*off, end); BD_E_NOTSUP (e untouched) when the kernel cannot, with
 * *off where the user copy should go on. */
static bd_status copy_kernel(clone_job *j, uint64_t *off, uint64_t end, bd_error *e)
{
    while (*off < end) {
        uint64_t want = end - *off < CHUNK ? end - *off : CHUNK;
        loff_t in_off = (loff_t)*off, out_off = (loff_t)*off;
        ssize_t n = copy_file_range(j->in, &in_off, j->out, &out_off, (size_t)want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return method_unsupported(errno) ? BD_E_NOTSUP : io_failed(errno, "copy_file_range", j->name, e);
        if (n == 0)  /* EOF early (the source shrank), or procfs-style files: let read() decide */
            return BD_E_NOTSUP;
        *off += (uint64_t)n;
        j->method = BD_METHOD_KERNEL_COPY;
        bd_status rc = advance(j, (uint64_t)n, 0, (uint64_t)n, e);
        if (rc)
            return rc;
    }
    return BD_OK;
}
#endif

/* Copies every data segment (kernel copy unless user_only), then sets the size. */
static bd_status copy_segments(clone_job *j, bd_dir *dst, uint64_t src_dev, int sparse,
                               int user_only, bd_error *e)
{
    char *buf = 0;
    bd_status rc = BD_OK;
    int kernel = !user_only;
#ifdef __linux__
    if (kernel && learned(dst, src_dev, NO_COPY_RANGE))
        kernel = 0;
#else
    (void)dst, (void)src_dev;
    kernel = 0;
#endif
    uint64_t off = 0, end = 0;
    while (rc == BD_OK && next_segment(j, sparse, &off, &end)) {
#ifdef __linux__
        if (kernel) {
            rc = copy_kernel(j, &off, end, e);
            if (rc != BD_E_NOTSUP)
                continue;
            rc = BD_OK;
            if (j->copied == 0) {  /* unsupported from the start: remember for this directory */
                kernel = 0;
                learn(dst, src_dev, NO_COPY_RANGE);
            }
        }
#endif
        if (!buf && !(buf = malloc(COPY_BUF)))
            return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
        j->method = BD_METHOD_USER_COPY;
        rc = copy_user(j, off, end, buf, e);
        off = end;
    }
    free(buf);
    if (rc == BD_OK && sparse && ftruncate(j->out, (off_t)j->size) != 0)  /* a trailing hole */
        rc = io_failed(errno, "ftruncate", j->name, e);
    return rc;
}

/* ---- the clone ---------------------------------------------------------------------- */

static bd_status check_flags(uint32_t flags, bd_error *e)
{
    if ((flags & ~(uint32_t)(BD_CLONE_REQUIRE | BD_CLONE_NEVER | BD_CLONE_READ_SOON))
        || ((flags & BD_CLONE_REQUIRE) && (flags & BD_CLONE_NEVER)))
        return bd_fail(e, BD_E_INVAL, EINVAL, "clone flags", BD_PATH_AS_GIVEN, 0);
    return BD_OK;
}

#ifdef __APPLE__
/* fclonefileat: the whole file, with its own copy of the metadata (applied again later). */
static bd_status clone_apple(int in, bd_dir *dst, const char *name, uint32_t flags, int *done, bd_error *e)
{
    *done = 0;
    if (flags & BD_CLONE_NEVER)
        return BD_OK;
    if (fclonefileat(in, dst->fd, name, CLONE_NOFOLLOW | CLONE_NOOWNERCOPY) == 0) {
        *done = 1;
        return BD_OK;
    }
    int err = errno;
    if (err == EEXIST || !(method_unsupported(err) || (flags & BD_CLONE_REQUIRE)))
        return io_failed(err, "fclonefileat", name, e);
    if (flags & BD_CLONE_REQUIRE)
        return bd_fail(e, err == EXDEV ? BD_E_XDEV : BD_E_NOTSUP, err, "fclonefileat", BD_PATH_AS_GIVEN, name);
    return BD_OK;
}
#endif

bd_status bd_file_clone_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                           const char *dst_name, size_t dst_len, uint32_t flags,
                           bd_progress *p, bd_copy_result *r, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_CLONE, dst_name, dst_len, e);
    char sname[BD_NAME_BUF], dname[BD_NAME_BUF];
    bd_status rc = check_flags(flags, e);
    if (rc || (rc = bd_posix_name(src_name, src_len, sname, e)) != BD_OK
        || (rc = bd_posix_name(dst_name, dst_len, dname, e)) != BD_OK)
        return rc;
    int in;
    bd_stat st;
    if ((rc = bd_posix_open_regular(src, sname, &in, &st, e)) != BD_OK)
        return rc;
    if ((rc = bd_progress_tick(p, 0, e)) != BD_OK) {
        close(in);
        return rc;
    }
    clone_job j = { in, -1, st.size, dname, p, 0, 0, BD_METHOD_NONE };
#ifdef __APPLE__
    int cloned = 0;
    if (st.size > 0 && (rc = clone_apple(j.in, dst, dname, flags, &cloned, e)) != BD_OK) {
        close(in);
        return rc;
    }
    if (cloned) {
        close(in);
        j.method = BD_METHOD_CLONE;
        rc = advance(&j, st.size, st.size, 0, e);
        if (rc)
            unlinkat(dst->fd, dname, 0);
        goto done;
    }
#endif
    j.out = openat(dst->fd, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                   (mode_t)(st.mode & 0777));
    if (j.out < 0) {
        rc = io_failed(errno, "openat", dname, e);
        close(in);
        return rc;
    }
    if (st.size > 0) {
        int tried_clone = 0;
#ifdef __linux__
        if (!(flags & BD_CLONE_NEVER) && ((flags & BD_CLONE_REQUIRE) || !learned(dst, st.volume_id, NO_FICLONE))) {
            tried_clone = 1;
            if (ioctl(j.out, FICLONE, j.in) == 0) {
                if (flags & BD_CLONE_READ_SOON)  /* a hint: readahead starts, nobody waits */
                    (void)posix_fadvise(j.out, 0, 0, POSIX_FADV_WILLNEED);
                j.method = BD_METHOD_CLONE;
                rc = advance(&j, st.size, st.size, 0, e);
                goto close_out;
            }
            int err = errno;
            if (!method_unsupported(err)) {
                rc = io_failed(err, "FICLONE", dname, e);
                goto close_out;
            }
            if (err == EOPNOTSUPP || err == EXDEV || err == ENOTTY || err == ENOSYS)
                learn(dst, st.volume_id, NO_FICLONE);
            if (flags & BD_CLONE_REQUIRE) {
                rc = bd_fail(e, err == EXDEV ? BD_E_XDEV : BD_E_NOTSUP, err, "FICLONE", BD_PATH_AS_GIVEN, dname);
                goto close_out;
            }
        }
#endif
        if (flags & BD_CLONE_REQUIRE) {
            rc = bd_fail(e, BD_E_NOTSUP, tried_clone ? 0 : EOPNOTSUPP, "clone", BD_PATH_AS_GIVEN, dname);
            goto close_out;
        }
        int sparse = st.alloc_size < st.size;
        rc = copy_segments(&j, dst, st.volume_id, sparse, (flags & BD_CLONE_NEVER) != 0, e);
    }
close_out:
    close(in);
    if (close(j.out) != 0 && rc == BD_OK)  /* NFS and quotas can report write errors here */
        rc = io_failed(errno, "close", dname, e);
    if (rc != BD_OK)
        unlinkat(dst->fd, dname, 0);
#ifdef __APPLE__
done:
#endif
    if (rc == BD_OK && r) {
        r->method = j.method;
        r->bytes_cloned = j.cloned;
        r->bytes_copied = j.copied;
    }
    return rc;
}

bd_status bd_file_create_clone_at(bd_dir *d, const char *name, size_t name_len, uint32_t mode, bd_file *src,
                                  bd_file **out, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_CLONE, name, name_len, e);
    char buf[BD_NAME_BUF];
    bd_status rc = bd_posix_name(name, name_len, buf, e);
    if (rc)
        return rc;
#ifdef __linux__
    bd_file *f = malloc(sizeof *f);
    if (!f)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    f->fd = openat(d->fd, buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, (mode_t)(mode & 0777));
    if (f->fd < 0) {
        int err = errno;
        free(f);
        return io_failed(err, "openat", buf, e);
    }
    if (ioctl(f->fd, FICLONE, src->fd) == 0) {
        *out = f;
        return BD_OK;
    }
    int err = errno;
    close(f->fd);
    free(f);
    unlinkat(d->fd, buf, 0);
    if (!method_unsupported(err))
        return io_failed(err, "FICLONE", buf, e);
    return bd_fail(e, err == EXDEV ? BD_E_XDEV : BD_E_NOTSUP, err, "FICLONE", BD_PATH_AS_GIVEN, buf);
#else
    /* macOS clones by name only (fclonefileat makes the file itself): bd_file_clone_at serves it. */
    (void)d, (void)mode, (void)src, (void)out;
    return bd_fail(e, BD_E_NOTSUP, EOPNOTSUPP, "clone", BD_PATH_AS_GIVEN, buf);
#endif
}
