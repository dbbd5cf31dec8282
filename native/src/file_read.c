/* file_read.c: exact reads and the before/after check that catches a file changing. */
#include "file_read.h"

bd_status bd_read_exact(bd_file *f, void *buf, size_t len, uint64_t off, bd_error *e)
{
    unsigned char *p = buf;
    while (len > 0) {
        size_t got;
        bd_status rc = bd_file_pread(f, p, len, off, &got, e);
        if (rc != BD_OK)
            return rc;
        if (got == 0)
            return bd_fail(e, BD_E_CHANGED, 0, "read (file shrank)", BD_PATH_AS_GIVEN, 0);
        p += got;
        off += got;
        len -= got;
    }
    return BD_OK;
}

bd_status bd_check_unchanged(bd_file *f, const bd_stat *before, bd_error *e)
{
    bd_stat after;
    bd_status rc = bd_file_stat(f, &after, e);
    if (rc != BD_OK)
        return rc;
    if (after.size != before->size || after.mtime_ns != before->mtime_ns || after.ctime_ns != before->ctime_ns)
        return bd_fail(e, BD_E_CHANGED, 0, "stat (changed while read)", BD_PATH_AS_GIVEN, 0);
    return BD_OK;
}
