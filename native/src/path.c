/* path.c: a user's path split into an open parent directory and its last name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_path.h"

static int is_sep(char c)
{
    return BD_PATH_IS_SEP(c);
}

bd_status bd_path_open_parent(const char *path, bd_dir **parent, const char **name,
                              size_t *name_len, bd_error *e)
{
    size_t end = strlen(path);
    while (end > 1 && is_sep(path[end - 1]))
        end--;
    size_t start = end;
    while (start > 0 && !is_sep(path[start - 1]))
        start--;
    size_t n = end - start;
    if (n == 0 || (n == 1 && path[start] == '.') || (n == 2 && path[start] == '.' && path[start + 1] == '.')
        || (BD_PATH_HAS_DRIVES && path[end - 1] == ':'))  /* "C:" is a drive, not a name */
        return bd_fail(e, BD_E_INVAL, EINVAL, "path has no last name", BD_PATH_AS_GIVEN, path);
    /* The parent: everything before the name, without trailing separators but keeping a
     * root ("/", "C:\"); "." when there is nothing. */
    size_t plen = start;
    while (plen > 1 && is_sep(path[plen - 1]) && !(plen >= 2 && path[plen - 2] == ':'))
        plen--;
    char *dir = malloc(plen + 2);
    if (!dir)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    if (plen == 0)
        memcpy(dir, ".", 2);
    else {
        memcpy(dir, path, plen);
        dir[plen] = '\0';
    }
    bd_status rc = bd_dir_open(dir, parent, e);
    free(dir);
    if (rc == BD_OK) {
        *name = path + start;
        *name_len = n;
    }
    return rc;
}
