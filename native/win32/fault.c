/* fault.c (Windows): ending the process for bd_fault.h's kill plans. */
#include "bd_win.h"

#include "bodega/bd_fault.h"

void bd_fault_kill_self(void)
{
    TerminateProcess(GetCurrentProcess(), 137);  /* no DLL detach, no atexit: like SIGKILL */
    ExitProcess(137);                            /* not reached */
}
