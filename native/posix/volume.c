/* volume.c (POSIX): what a volume is (statfs) and whether it clones (a trial clone), and
 * the native capabilities of this build. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#else
#include <sys/mount.h>
#include <sys/param.h>
#endif

#include "posix.h"
#include "bodega/bd_thread.h"

#ifdef __linux__
#define FUSE_MAGIC 0x65735546UL  /* statfs f_type of a FUSE volume */

/* statfs f_type magics (linux/magic.h and the filesystems' own headers). */
static const struct { unsigned long magic; const char *name; } FS_NAMES[] = {
    { 0x58465342UL, "xfs" },     { 0x9123683EUL, "btrfs" },   { 0xEF53UL, "ext4" },
    { 0x01021994UL, "tmpfs" },   { 0x2FC12FC1UL, "zfs" },     { 0xCA451A4EUL, "bcachefs" },
    { 0xF2F52010UL, "f2fs" },    { 0x6969UL, "nfs" },         { 0xFF534D42UL, "cifs" },
    { 0xFE534D42UL, "smb2" },    { FUSE_MAGIC, "fuse" },    { 0x794C7630UL, "overlay" },
    { 0x5346544EUL, "ntfs" },    { 0x7366746EUL, "ntfs3" },   { 0x4D44UL, "vfat" },
    { 0x2011BAB0UL, "exfat" },   { 0x858458F6UL, "ramfs" },   { 0x73717368UL, "squashfs" },
    { 0x9FA0UL, "proc" },        { 0x62656572UL, "sysfs" },   { 0x3153464AUL, "jfs" },
    { 0x52654973UL, "reiserfs" },{ 0x01021997UL, "9p" },      { 0x6E736673UL, "nsfs" },
};

static void fs_name(const struct statfs *sf, char *out, size_t cap)
{
    unsigned long magic = (unsigned long)(unsigned int)sf->f_type;
    for (size_t i = 0; i < sizeof FS_NAMES / sizeof FS_NAMES[0]; i++)
        if (FS_NAMES[i].magic == magic) {
            snprintf(out, cap, "%s", FS_NAMES[i].name);
            return;
        }
    snprintf(out, cap, "0x%lx", magic);
}
#else
static void fs_name(const struct statfs *sf, char *out, size_t cap)
{
    snprintf(out, cap, "%s", sf->f_fstypename);
}
#endif

/* Clones a small file (one block and a bit: an aligned part and a tail) inside d, with
 * BD_CLONE_REQUIRE; both files are removed again.  1 when it worked. */
static int trial_clone(bd_dir *d, uint32_t block)
{
    static unsigned counter;
    char a[64], b[64];
    unsigned n = bd_atomic_inc_uint(&counter);
    snprintf(a, sizeof a, ".bodega-probe-%ld-%u-a", (long)getpid(), n);
    snprintf(b, sizeof b, ".bodega-probe-%ld-%u-b", (long)getpid(), n);
    int fd = openat(d->fd, a, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;  /* not writable here: no proof either way, so no claim */
    char buf[4096];
    memset(buf, 'b', sizeof buf);
    int ok = 1;
    for (uint32_t done = 0; ok && done < block + 1;) {
        size_t want = block + 1 - done < sizeof buf ? block + 1 - done : sizeof buf;
        ssize_t w = write(fd, buf, want);
        ok = w > 0;
        done += ok ? (uint32_t)w : 0;
    }
    close(fd);
    bd_error ignored;
    bd_error_clear(&ignored);
    bd_copy_result r;
    ok = ok && bd_file_clone_at(d, a, strlen(a), d, b, strlen(b), BD_CLONE_REQUIRE, 0, &r, &ignored) == BD_OK
         && r.method == BD_METHOD_CLONE;
    unlinkat(d->fd, b, 0);
    unlinkat(d->fd, a, 0);
    return ok;
}

bd_status bd_fs_info_at(bd_dir *d, int trial, bd_fs_info *out, bd_error *e)
{
    struct statfs sf;
    struct stat st;
    if (fstatfs(d->fd, &sf) != 0)
        return bd_fail(e, BD_E_IO, errno, "fstatfs", BD_PATH_AS_GIVEN, 0);
    if (fstat(d->fd, &st) != 0)
        return bd_fail(e, BD_E_IO, errno, "fstat", BD_PATH_AS_GIVEN, 0);
    bd_fs_info info;
    memset(&info, 0, sizeof info);
    fs_name(&sf, info.fs_name, sizeof info.fs_name);
    info.volume_id = (uint64_t)st.st_dev;
    uint64_t frsize = sf.f_bsize;
#ifdef __linux__
    if (sf.f_frsize)
        frsize = (uint64_t)sf.f_frsize;
#endif
    info.block_size = (uint32_t)sf.f_bsize;
    if (info.block_size < 512 || (info.block_size & (info.block_size - 1)))
        info.block_size = 4096;  /* some network filesystems report odd transfer sizes */
    info.bytes_total = (uint64_t)sf.f_blocks * frsize;
    info.bytes_free = (uint64_t)sf.f_bavail * frsize;
    if (trial && trial_clone(d, info.block_size))
        info.flags |= BD_FS_CLONE;
    *out = info;
    return BD_OK;
}

/* The capabilities this build compiled in and this kernel has (ENOSYS means it lacks one). */
bd_status bd_volume_sync(bd_dir *d, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_SYNC, NULL, 0, e);
#ifdef __linux__
    /* Linux passes syncfs to a FUSE server only for virtiofs: on any other FUSE volume it
     * returns success having flushed nothing, so the caller must flush file by file. */
    struct statfs sf;
    if (fstatfs(d->fd, &sf) == 0 && (unsigned long)sf.f_type == FUSE_MAGIC)
        return bd_fail(e, BD_E_NOTSUP, ENOSYS, "syncfs", BD_PATH_AS_GIVEN, 0);
    if (syncfs(d->fd) != 0)
        return bd_fail(e, BD_E_IO, errno, "syncfs", BD_PATH_AS_GIVEN, 0);
    return BD_OK;
#else
    (void)d;
    return bd_fail(e, BD_E_NOTSUP, ENOSYS, "syncfs", BD_PATH_AS_GIVEN, 0);
#endif
}

const char *bd_platform_features(void)
{
#ifdef __linux__
    static char list[160];
    static int done;
    if (bd_atomic_load_int(&done))
        return list;
    char buf[160] = "posix linux ficlone getdents64 seek_hole";
    /* Probing with invalid descriptors: the kernel answers EBADF if it has the call. */
    if (!(copy_file_range(-1, 0, -1, 0, 0, 0) < 0 && errno == ENOSYS))
        strcat(buf, " copy_file_range");
#ifdef STATX_BASIC_STATS
    struct statx sx;
    if (!(statx(AT_FDCWD, "/", 0, STATX_BASIC_STATS, &sx) < 0 && errno == ENOSYS))
        strcat(buf, " statx");
#endif
#ifdef SYS_renameat2
    if (!(syscall(SYS_renameat2, -1, "", -1, "", 0) < 0 && errno == ENOSYS))
        strcat(buf, " renameat2");
#endif
    strcat(buf, " xattr");
    if (!(syncfs(-1) < 0 && errno == ENOSYS))
        strcat(buf, " syncfs");
    memcpy(list, buf, sizeof list);
    bd_atomic_store_int(&done, 1);
    return list;
#elif defined(__APPLE__)
    return "posix macos clonefile renameatx_np xattr";
#else
    return "posix";
#endif
}
