/* new_file.c: the last steps of writing a new file of a tree (new_file.h). */
#include <string.h>

#include "new_file.h"

bd_status new_file_finish(bd_dir *d, const char *name, size_t name_len, bd_file *out, bd_status rc,
                          const new_file_meta *m, bd_stat *after, bd_error *e)
{
    bd_stat st;
    memset(&st, 0, sizeof st);
    st.mode = m->mode;
    st.mtime_ns = m->mtime_ns;
    st.uid = m->uid;
    st.gid = m->gid;
    if (rc == BD_OK)
        rc = bd_file_set_meta(out, &st, BD_META_MODE | BD_META_TIMES | (m->owner ? BD_META_OWNER : 0), e);
    if (rc == BD_OK && after)
        rc = bd_file_stat(out, after, e);
    bd_file_close(out);
    if (rc != BD_OK) {
        bd_error ignored;
        bd_error_clear(&ignored);
        bd_unlink_at(d, name, name_len, 0, &ignored);
    }
    return rc;
}
