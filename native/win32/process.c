/* process.c (win32): an app started with CreateProcessW inside a Job Object.
 *
 * The job kills every process of the app when its last handle closes (so a caller that
 * dies takes the app with it), caps the job's committed memory and, with a hard cap, its
 * CPU rate.  The app inherits the caller's standard handles and nothing else (an explicit
 * handle list).  Windows has no mount namespace: the app sees the host's filesystem, and
 * keeping its writes inside the container is a filesystem driver's job; binds and a
 * denied network are refused with BD_E_NOTSUP, never ignored.
 */
#include "bd_win.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_process.h"

#define POLL_MS 50

/* ---- the command line and the environment block, as UTF-16 ----------------------------- */

/* Appends one argument quoted the way CommandLineToArgvW and the C runtime read it back. */
static size_t quote_arg(const char *arg, char *out)
{
    size_t n = 0;
    if (*arg && !strpbrk(arg, " \t\n\v\"")) {
        size_t len = strlen(arg);
        if (out)
            memcpy(out, arg, len);
        return len;
    }
    if (out)
        out[n] = '"';
    n++;
    for (const char *p = arg;; p++) {
        size_t slashes = 0;
        while (*p == '\\') {
            slashes++;
            p++;
        }
        size_t emit = !*p ? 2 * slashes : *p == '"' ? 2 * slashes + 1 : slashes;
        for (size_t i = 0; i < emit; i++) {
            if (out)
                out[n] = '\\';
            n++;
        }
        if (!*p)
            break;
        if (out)
            out[n] = *p;
        n++;
    }
    if (out)
        out[n] = '"';
    return n + 1;
}

static WCHAR *command_line(const char *const *argv)
{
    size_t total = 1;
    for (size_t i = 0; argv[i]; i++)
        total += quote_arg(argv[i], 0) + 1;
    char *utf8 = malloc(total);
    if (!utf8)
        return 0;
    size_t n = 0;
    for (size_t i = 0; argv[i]; i++) {
        if (i)
            utf8[n++] = ' ';
        n += quote_arg(argv[i], utf8 + n);
    }
    utf8[n] = 0;
    WCHAR *w = bd_utf8_path_to_utf16(utf8, n);
    free(utf8);
    return w;
}

/* "A=1\0B=2\0\0" in UTF-16. */
static WCHAR *environment_block(const char *const *env)
{
    size_t cap = 1;
    for (size_t i = 0; env[i]; i++)
        cap += strlen(env[i]) + 1;
    WCHAR *block = malloc(cap * sizeof *block);
    if (!block)
        return 0;
    size_t n = 0;
    for (size_t i = 0; env[i]; i++) {
        long got = bd_utf8_to_utf16(env[i], strlen(env[i]), block + n, cap - n - 1);
        if (got < 0) {
            free(block);
            return 0;
        }
        n += (size_t)got;
        block[n++] = 0;
    }
    block[n++] = 0;
    if (n == 1)
        block[n++] = 0;  /* an empty block is two NULs */
    return block;
}

/* ---- the job ------------------------------------------------------------------------ */

static HANDLE make_job(const bd_process_spec *spec, bd_process_result *r)
{
    HANDLE job = CreateJobObjectW(0, 0);
    if (!job)
        return 0;
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;
    memset(&lim, 0, sizeof lim);
    lim.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &lim, sizeof lim)) {
        CloseHandle(job);
        return 0;
    }
    if (spec->memory_limit) {
        lim.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
        lim.JobMemoryLimit = (SIZE_T)spec->memory_limit;
        if (SetInformationJobObject(job, JobObjectExtendedLimitInformation, &lim, sizeof lim))
            r->memory_by = BD_BY_JOB;
    }
    if (spec->cpu_millicores) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        DWORD cpus = si.dwNumberOfProcessors ? si.dwNumberOfProcessors : 1;
        /* CpuRate: hundredths of a percent of all the machine's processors. */
        uint64_t rate = (uint64_t)spec->cpu_millicores * 10 / cpus;
        JOBOBJECT_CPU_RATE_CONTROL_INFORMATION cpu;
        memset(&cpu, 0, sizeof cpu);
        cpu.ControlFlags = JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP;
        cpu.CpuRate = (DWORD)(rate < 1 ? 1 : rate > 10000 ? 10000 : rate);
        if (SetInformationJobObject(job, JobObjectCpuRateControlInformation, &cpu, sizeof cpu))
            r->cpu_by = BD_BY_JOB;
    }
    return job;
}

/* ---- inheriting the standard handles and nothing else ------------------------------- */

typedef struct std_handles {
    HANDLE h[3];    /* inheritable duplicates (NULL where the caller has none) */
    HANDLE list[3]; /* the distinct ones, for PROC_THREAD_ATTRIBUTE_HANDLE_LIST */
    size_t n;
} std_handles;

static void std_open(std_handles *s)
{
    static const DWORD which[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
    memset(s, 0, sizeof *s);
    HANDLE self = GetCurrentProcess();
    for (int i = 0; i < 3; i++) {
        HANDLE h = GetStdHandle(which[i]);
        if (!h || h == INVALID_HANDLE_VALUE)
            continue;
        if (!DuplicateHandle(self, h, self, &s->h[i], 0, TRUE, DUPLICATE_SAME_ACCESS)) {
            s->h[i] = 0;
            continue;
        }
        s->list[s->n++] = s->h[i];
    }
}

static void std_close(std_handles *s)
{
    for (int i = 0; i < 3; i++)
        if (s->h[i])
            CloseHandle(s->h[i]);
}

static bd_status start(const bd_process_spec *spec, HANDLE job, PROCESS_INFORMATION *pi, bd_error *e)
{
    WCHAR *app = bd_utf8_path_to_utf16(spec->argv[0], strlen(spec->argv[0]));
    WCHAR *cmd = command_line(spec->argv);
    WCHAR *env = environment_block(spec->env);
    WCHAR *cwd = spec->cwd ? bd_utf8_path_to_utf16(spec->cwd, strlen(spec->cwd)) : 0;
    bd_status rc = BD_OK;
    std_handles std;
    std_open(&std);
    STARTUPINFOEXW si;
    memset(&si, 0, sizeof si);
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = std.h[0];
    si.StartupInfo.hStdOutput = std.h[1];
    si.StartupInfo.hStdError = std.h[2];
    DWORD flags = CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT;
    SIZE_T size = 0;
    void *attrs = 0;
    InitializeProcThreadAttributeList(0, 1, 0, &size);
    if (std.n && size && (attrs = malloc(size)) != 0) {
        if (InitializeProcThreadAttributeList(attrs, 1, 0, &size)
            && UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, std.list,
                                         std.n * sizeof(HANDLE), 0, 0)) {
            si.lpAttributeList = attrs;
            flags |= EXTENDED_STARTUPINFO_PRESENT;
        }
    }
    if (!app || !cmd || !env || (spec->cwd && !cwd)) {
        rc = bd_fail(e, BD_E_INVAL, EILSEQ, "utf8-to-utf16", BD_PATH_AS_GIVEN, spec->argv[0]);
    } else if (!CreateProcessW(app, cmd, 0, 0, std.n ? TRUE : FALSE, flags, env, cwd, &si.StartupInfo, pi)) {
        rc = bd_win_fail(e, GetLastError(), "CreateProcessW", spec->argv[0], strlen(spec->argv[0]));
    } else if (!AssignProcessToJobObject(job, pi->hProcess)) {
        DWORD err = GetLastError();
        TerminateProcess(pi->hProcess, 1);
        CloseHandle(pi->hThread);
        CloseHandle(pi->hProcess);
        rc = bd_win_fail(e, err, "AssignProcessToJobObject", 0, 0);
    } else {
        ResumeThread(pi->hThread);
        CloseHandle(pi->hThread);
    }
    if (si.lpAttributeList)
        DeleteProcThreadAttributeList(si.lpAttributeList);
    free(attrs);
    std_close(&std);
    free(app);
    free(cmd);
    free(env);
    free(cwd);
    return rc;
}

bd_status bd_process_run(const bd_process_spec *spec, bd_progress *p, bd_process_result *out, bd_error *e)
{
    if (!spec || !spec->argv || !spec->argv[0] || !spec->env || !out)
        return bd_fail(e, BD_E_INVAL, EINVAL, "bd_process_run", BD_PATH_AS_GIVEN, 0);
    if (spec->n_binds)
        return bd_fail(e, BD_E_NOTSUP, 0, "binds (on Windows a filesystem driver's job)", BD_PATH_AS_GIVEN,
                       spec->binds[0].target);
    if (spec->network == BD_NET_NONE)
        return bd_fail(e, BD_E_NOTSUP, 0, "a denied network (on Windows a network filter driver's job)",
                       BD_PATH_AS_GIVEN, 0);
    bd_process_result r;
    memset(&r, 0, sizeof r);
    HANDLE job = make_job(spec, &r);
    if (!job)
        return bd_win_fail(e, GetLastError(), "CreateJobObjectW", 0, 0);
    PROCESS_INFORMATION pi;
    memset(&pi, 0, sizeof pi);
    uint64_t started = bd_now_ns();
    bd_status rc = start(spec, job, &pi, e);
    if (rc) {
        CloseHandle(job);
        return rc;
    }
    int cancelled = 0;
    bd_error tick_e;
    for (;;) {
        DWORD w = WaitForSingleObject(pi.hProcess, POLL_MS);
        if (w == WAIT_OBJECT_0)
            break;
        if (w == WAIT_FAILED) {
            rc = bd_win_fail(e, GetLastError(), "WaitForSingleObject", 0, 0);
            TerminateJobObject(job, 1);
            break;
        }
        if (spec->time_limit_ms && bd_now_ns() - started >= spec->time_limit_ms * 1000000ULL) {
            r.timed_out = 1;
            TerminateJobObject(job, 1);
            WaitForSingleObject(pi.hProcess, INFINITE);
            break;
        }
        bd_error_clear(&tick_e);
        if (bd_progress_tick(p, 0, &tick_e) == BD_E_CANCELLED) {
            cancelled = 1;
            TerminateJobObject(job, 1);
            WaitForSingleObject(pi.hProcess, INFINITE);
            break;
        }
    }
    DWORD code = 1;
    GetExitCodeProcess(pi.hProcess, &code);
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;
    if (QueryInformationJobObject(job, JobObjectExtendedLimitInformation, &lim, sizeof lim, 0))
        r.peak_memory = (uint64_t)lim.PeakJobMemoryUsed;
    TerminateJobObject(job, 1);  /* whatever the app left running */
    CloseHandle(pi.hProcess);
    CloseHandle(job);
    if (rc)
        return rc;
    if (cancelled)
        return bd_fail(e, BD_E_CANCELLED, 0, "cancel", BD_PATH_AS_GIVEN, 0);
    r.exited = 1;
    r.exit_code = (int)code;
    /* A job's memory cap makes allocations fail rather than killing: the best sign that it
     * stopped the app is a failure with the peak at the cap. */
    r.memory_killed = code != 0 && spec->memory_limit && r.peak_memory + (1 << 20) >= spec->memory_limit;
    r.wall_ms = (bd_now_ns() - started) / 1000000ULL;
    *out = r;
    return BD_OK;
}

bd_status bd_isolation_probe(const char *sandbox_tool, const char *cgroup_root, bd_isolation *out, bd_error *e)
{
    (void)sandbox_tool;
    (void)cgroup_root;
    (void)e;
    memset(out, 0, sizeof *out);
    out->root_view = 0;
    out->memory_by = BD_BY_JOB;
    out->cpu_by = BD_BY_JOB;
    return BD_OK;
}
