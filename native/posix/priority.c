/* priority.c (POSIX): lowering the calling process to background CPU priority. */
#include <errno.h>
#include <sys/resource.h>

#include "bodega/bd_process.h"

bd_status bd_process_lower_priority(bd_error *e)
{
    errno = 0;
    int now = getpriority(PRIO_PROCESS, 0);  /* -1 is a valid nice value: errno tells failure */
    if (now == -1 && errno != 0)
        return bd_fail(e, BD_E_IO, errno, "getpriority", BD_PATH_AS_GIVEN, NULL);
    if (now >= BD_BACKGROUND_NICE)
        return BD_OK;  /* already at or below the background level: never raise it */
    if (setpriority(PRIO_PROCESS, 0, BD_BACKGROUND_NICE) != 0)
        return bd_fail(e, BD_E_IO, errno, "setpriority", BD_PATH_AS_GIVEN, NULL);
    return BD_OK;
}
