/* clone_file.c: one file or a volume probe, by the paths a user gives. */
#include <errno.h>
#include <string.h>

#include "bodega/bd_clone.h"
#include "bodega/bd_path.h"

bd_status bd_clone_file(const char *src_path, const char *dst_path, uint32_t flags,
                        bd_progress *p, bd_copy_result *r, bd_error *e)
{
    bd_dir *sd = 0, *dd = 0;
    const char *sname, *dname;
    size_t slen, dlen;
    bd_status rc = bd_path_open_parent(src_path, &sd, &sname, &slen, e);
    if (rc == BD_OK)
        rc = bd_path_open_parent(dst_path, &dd, &dname, &dlen, e);
    if (rc)
        goto out;
    bd_stat st;
    bd_copy_result res;
    int wrote = 0;
    if ((rc = bd_stat_at(sd, sname, slen, &st, e)) == BD_OK
        && (rc = bd_file_clone_at(sd, sname, slen, dd, dname, dlen, flags, p, &res, e)) == BD_OK) {
        wrote = 1;
        rc = bd_meta_copy_at(sd, sname, slen, dd, dname, dlen, &st, BD_META_ALL, e);
    }
    if (rc && wrote)
        bd_unlink_at(dd, dname, dlen, 0, 0);
    if (rc) {
        /* Name the path the user gave: the destination's for failures to write. */
        int dst_side = e && bd_clone_blames_destination(e->sys_errno);
        if (e && e->code != BD_E_CANCELLED && e->code != BD_E_NOMEM)
            bd_error_set_path(e, BD_PATH_AS_GIVEN, dst_side ? dst_path : src_path,
                              strlen(dst_side ? dst_path : src_path));
    } else if (r) {
        *r = res;
    }
out:
    if (sd)
        bd_dir_close(sd);
    if (dd)
        bd_dir_close(dd);
    return rc;
}

bd_status bd_probe_cow(const char *path, bd_fs_info *out, bd_error *e)
{
    bd_dir *d;
    bd_status rc = bd_dir_open(path, &d, e);
    if (rc)
        return rc;
    rc = bd_fs_info_at(d, 1, out, e);
    bd_dir_close(d);
    if (rc)
        bd_error_set_path(e, BD_PATH_AS_GIVEN, path, strlen(path));
    return rc;
}
