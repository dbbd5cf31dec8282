/* ntdll.c (Windows): the ntdll entry points the platform needs, resolved once at run time.
 *
 * Resolving with GetProcAddress keeps the core free of an ntdll import library (MSVC builds
 * of the extension need no extra link flag) and lets the optional ones (absent in Wine or
 * older Windows) simply be NULL. */
#include "bd_win.h"

static bd_ntdll NTDLL;
static int NTDLL_OK;
static INIT_ONCE NTDLL_ONCE = INIT_ONCE_STATIC_INIT;

/* FARPROC -> specific function pointer: through a union, since ISO C has no direct cast. */
#define RESOLVE(mod, type, name) (((union { FARPROC p; type f; }){ GetProcAddress((mod), (name)) }).f)

static BOOL CALLBACK resolve(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    HMODULE nt = GetModuleHandleW(L"ntdll.dll");
    if (!nt)
        return TRUE;
    NTDLL.NtCreateFile = RESOLVE(nt, bd_NtCreateFile_fn, "NtCreateFile");
    NTDLL.NtSetInformationFile = RESOLVE(nt, bd_NtSetInformationFile_fn, "NtSetInformationFile");
    NTDLL.NtQueryInformationByName = RESOLVE(nt, bd_NtQueryInformationByName_fn, "NtQueryInformationByName");
    NTDLL.RtlNtStatusToDosError = RESOLVE(nt, bd_RtlNtStatusToDosError_fn, "RtlNtStatusToDosError");
    bd_wine_get_version_fn wine = RESOLVE(nt, bd_wine_get_version_fn, "wine_get_version");
    NTDLL.wine_version = wine ? wine() : 0;
    NTDLL_OK = NTDLL.NtCreateFile && NTDLL.NtSetInformationFile && NTDLL.RtlNtStatusToDosError;
    return TRUE;
}

const bd_ntdll *bd_win_ntdll(void)
{
    InitOnceExecuteOnce(&NTDLL_ONCE, resolve, 0, 0);
    return NTDLL_OK ? &NTDLL : 0;
}

DWORD bd_win_nt_error(LONG status)
{
    /* Mapped by hand: RtlNtStatusToDosError's answer for this one varies across builds. */
    if (status == BD_STATUS_REPARSE_POINT_ENCOUNTERED)
        return ERROR_REPARSE_POINT_ENCOUNTERED;
    const bd_ntdll *nt = bd_win_ntdll();
    DWORD err = nt ? nt->RtlNtStatusToDosError(status) : ERROR_GEN_FAILURE;
    return err ? err : ERROR_GEN_FAILURE;
}
