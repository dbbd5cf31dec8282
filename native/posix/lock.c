/* lock.c (POSIX): flock(2) on an open file, never waiting. */
#include <errno.h>
#include <sys/file.h>

#include "bodega/bd_lock.h"
#include "posix.h"

bd_status bd_file_lock(bd_file *f, int exclusive, int *taken, bd_error *e)
{
    int op = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
    for (;;) {
        if (flock(f->fd, op) == 0) {
            *taken = 1;
            return BD_OK;
        }
        if (errno == EWOULDBLOCK || errno == EAGAIN) {
            *taken = 0;
            return BD_OK;
        }
        if (errno != EINTR)
            return bd_fail(e, BD_E_IO, errno, "flock", BD_PATH_AS_GIVEN, 0);
    }
}
