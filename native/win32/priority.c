/* priority.c (Windows): lowering the calling process to background CPU priority. */
#include "bodega/bd_process.h"
#include "bd_win.h"

bd_status bd_process_lower_priority(bd_error *e)
{
    HANDLE self = GetCurrentProcess();
    DWORD now = GetPriorityClass(self);
    if (now == 0)
        return bd_win_fail(e, GetLastError(), "GetPriorityClass", NULL, 0);
    if (now == IDLE_PRIORITY_CLASS || now == BELOW_NORMAL_PRIORITY_CLASS)
        return BD_OK;  /* already at or below the background level: never raise it */
    if (!SetPriorityClass(self, BELOW_NORMAL_PRIORITY_CLASS))
        return bd_win_fail(e, GetLastError(), "SetPriorityClass", NULL, 0);
    return BD_OK;
}
