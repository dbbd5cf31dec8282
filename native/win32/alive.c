/* alive.c (Windows): whether a process id names a running process. */
#include "bodega/bd_process.h"
#include "bd_win.h"

int bd_process_alive(uint64_t pid)
{
    if (pid == 0 || pid > 0xFFFFFFFFu)
        return 0;
    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, (DWORD)pid);
    if (!h)
        return GetLastError() == ERROR_ACCESS_DENIED;  /* it exists, another user's */
    /* An ended process keeps its id while a handle to it is open: it is signalled. */
    int running = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
    CloseHandle(h);
    return running;
}
