/* process.c (POSIX): an app launched under bubblewrap, limited by cgroups or rlimits.
 *
 * The sandbox: a tmpfs root holding the host's system directories read-only (/usr, /etc
 * and the /bin, /sbin, /lib* links or directories), a fresh /proc, a minimal /dev, a
 * private /tmp, the container root read-write at BD_ROOT_VIEW and the caller's binds;
 * nothing else of the host (no /home, /root, /run, /var, /mnt).  Private IPC, PID and UTS
 * namespaces always; a private network namespace (loopback only) for BD_NET_NONE.
 * The root and every bind's source are checked before the launch (a missing one is an error
 * naming it); a failure bubblewrap meets later is its "bwrap: ..." line and exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "bodega/bd_process.h"
#include "cgroup.h"

#define STATUS_FD 3
#define GRACE_MS 2000      /* after a cancel's SIGTERM, before SIGKILL */
#define POLL_MS 50
#define TOOL_NAME "bwrap"

static const char *const SYSTEM_DIRS[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"};
#define N_SYSTEM_DIRS (sizeof SYSTEM_DIRS / sizeof SYSTEM_DIRS[0])

static int find_tool(const char *given, char *out, size_t cap)
{
    if (given && *given) {
        if (access(given, X_OK) != 0)
            return -1;
        snprintf(out, cap, "%s", given);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n && n + sizeof TOOL_NAME + 1 < cap) {
            memcpy(out, path, n);
            snprintf(out + n, cap - n, "/%s", TOOL_NAME);
            if (access(out, X_OK) == 0)
                return 0;
        }
        path += n + (path[n] == ':');
    }
    out[0] = 0;
    return -1;
}

/* ---- bubblewrap's arguments -------------------------------------------------------- */

typedef struct args {
    const char **v;
    size_t n, cap;
    char *links[N_SYSTEM_DIRS];  /* readlink results, owned */
} args;

static void add(args *a, const char *s)
{
    if (a->n < a->cap)
        a->v[a->n++] = s;
}

static bd_status build_args(const bd_process_spec *spec, const char *tool, args *a, bd_error *e)
{
    size_t argc = 0;
    while (spec->argv[argc])
        argc++;
    a->cap = 48 + 3 * N_SYSTEM_DIRS + 3 * spec->n_binds + argc + 1;
    a->v = calloc(a->cap, sizeof *a->v);
    if (!a->v)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    add(a, tool);
    add(a, "--die-with-parent");
    add(a, "--new-session");  /* no TIOCSTI into the caller's terminal */
    add(a, "--unshare-ipc");
    add(a, "--unshare-pid");
    add(a, "--unshare-uts");
    add(a, "--unshare-cgroup-try");
    if (spec->network == BD_NET_NONE)
        add(a, "--unshare-net");
    add(a, "--json-status-fd");
    add(a, "3");
    for (size_t i = 0; i < N_SYSTEM_DIRS; i++) {
        struct stat st;
        const char *dir = SYSTEM_DIRS[i];
        if (lstat(dir, &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(dir, target, sizeof target - 1);
            if (n <= 0)
                continue;
            target[n] = 0;
            a->links[i] = strdup(target);
            if (!a->links[i])
                return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
            add(a, "--symlink");
            add(a, a->links[i]);
            add(a, dir);
        } else if (S_ISDIR(st.st_mode)) {
            add(a, "--ro-bind");
            add(a, dir);
            add(a, dir);
        }
    }
    add(a, "--proc");
    add(a, "/proc");
    add(a, "--dev");
    add(a, "/dev");
    add(a, "--tmpfs");
    add(a, "/tmp");
    add(a, "--bind");
    add(a, spec->root);
    add(a, BD_ROOT_VIEW);
    for (size_t i = 0; i < spec->n_binds; i++) {
        add(a, spec->binds[i].read_only ? "--ro-bind" : "--bind");
        add(a, spec->binds[i].source);
        add(a, spec->binds[i].target);
    }
    if (spec->cwd) {
        add(a, "--chdir");
        add(a, spec->cwd);
    }
    add(a, "--");
    for (size_t i = 0; i < argc; i++)
        add(a, spec->argv[i]);
    a->v[a->n] = 0;
    return BD_OK;
}

static void free_args(args *a)
{
    for (size_t i = 0; i < N_SYSTEM_DIRS; i++)
        free(a->links[i]);
    free(a->v);
}

/* ---- the child, between fork and exec: async-signal-safe calls only ------------------ */

typedef struct child_plan {
    const char *tool;
    char *const *argv;
    char *const *env;
    const char *procs[2];     /* cgroup.procs files to join ("" or NULL: none) */
    int status_w, err_w;
    uint64_t rlimit_as;       /* 0: none */
    pid_t parent;
} child_plan;

static void child_fail(int err_w, int step, int err)
{
    int msg[2] = {step, err};
    ssize_t ignored = write(err_w, msg, sizeof msg);
    (void)ignored;
    _exit(127);
}

static void mark_cloexec_from(int lowest)
{
#if defined(__linux__) && defined(SYS_close_range)
    /* CLOSE_RANGE_CLOEXEC (4): every descriptor the caller has (its catalogue, sockets)
     * closes at exec; the error pipe stays usable until then. */
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 4U) == 0)
        return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 1 << 20)
        max = 1 << 20;
    for (int fd = lowest; fd < max; fd++)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void run_child(const child_plan *c)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != c->parent)
        _exit(127);  /* the caller died before the signal was armed */
#endif
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, 0);
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);  /* the caller ignores SIGPIPE; an app must not inherit that */
    for (int i = 0; i < 2; i++) {
        if (!c->procs[i] || !*c->procs[i])
            continue;
        int fd = open(c->procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            child_fail(c->err_w, 1, errno);
        close(fd);
    }
    if (c->rlimit_as) {
        struct rlimit rl = {(rlim_t)c->rlimit_as, (rlim_t)c->rlimit_as};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            child_fail(c->err_w, 2, errno);
    }
    if (dup2(c->status_w, STATUS_FD) < 0)
        child_fail(c->err_w, 3, errno);
    mark_cloexec_from(STATUS_FD + 1);
    execve(c->tool, c->argv, c->env);
    child_fail(c->err_w, 4, errno);
}

static const char *const CHILD_STEPS[] = {"", "join cgroup", "setrlimit", "dup2", "exec bubblewrap"};

/* ---- the parent ------------------------------------------------------------------- */

static int high_cloexec(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return high;
}

/* Reads what bubblewrap wrote on the status pipe; sets *started once the app runs. */
static void read_status(int *fd, char *buf, size_t cap, size_t *len, int *started)
{
    for (;;) {
        ssize_t n = read(*fd, buf + *len, cap - 1 - *len);
        if (n > 0) {
            *len += (size_t)n;
            buf[*len] = 0;
            if (strstr(buf, "\"child-pid\""))
                *started = 1;
            if (*len >= cap - 1)
                *len = 0;  /* only the first message matters; keep reading to drain */
            continue;
        }
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(*fd);
            *fd = -1;
        }
        return;
    }
}

static long child_pid_of(const char *status)
{
    const char *p = strstr(status, "\"child-pid\"");
    if (!p)
        return 0;
    p = strchr(p, ':');
    return p ? strtol(p + 1, 0, 10) : 0;
}

static void terminate(pid_t pid, long inner, const bd_cgroup *cg, int sig)
{
    if (inner > 0) {
        kill((pid_t)-inner, sig);  /* the app's session (bubblewrap's --new-session) */
        kill((pid_t)inner, sig);
    }
    bd_cgroup_signal(cg, sig);
    if (sig == SIGKILL)
        kill(pid, SIGKILL);  /* bubblewrap itself: its namespace dies with it */
}

bd_status bd_process_run(const bd_process_spec *spec, bd_progress *p, bd_process_result *out, bd_error *e)
{
    if (!spec || !spec->argv || !spec->argv[0] || !spec->env || !spec->root || !out)
        return bd_fail(e, BD_E_INVAL, EINVAL, "bd_process_run", BD_PATH_AS_GIVEN, 0);
    char tool[PATH_MAX];
    if (find_tool(spec->sandbox_tool, tool, sizeof tool) != 0)
        return bd_fail(e, BD_E_NOTSUP, ENOENT, "bubblewrap", BD_PATH_AS_GIVEN,
                       spec->sandbox_tool ? spec->sandbox_tool : TOOL_NAME);
    struct stat st;
    if (stat(spec->root, &st) != 0 || !S_ISDIR(st.st_mode))
        return bd_fail(e, BD_E_IO, errno ? errno : ENOTDIR, "container root", BD_PATH_AS_GIVEN, spec->root);
    for (size_t i = 0; i < spec->n_binds; i++)
        if (stat(spec->binds[i].source, &st) != 0)
            return bd_fail(e, BD_E_IO, errno, "bind source", BD_PATH_AS_GIVEN, spec->binds[i].source);
    args a;
    memset(&a, 0, sizeof a);
    bd_status rc = build_args(spec, tool, &a, e);
    if (rc) {
        free_args(&a);
        return rc;
    }
    bd_cgroup cg;
    bd_cgroup_make(&cg, spec->cgroup_root, spec->memory_limit, spec->cpu_millicores);
    int status_pipe[2], err_pipe[2];
    if (pipe(status_pipe) != 0) {
        rc = bd_fail(e, BD_E_IO, errno, "pipe", BD_PATH_AS_GIVEN, 0);
        goto out_cgroup;
    }
    if (pipe(err_pipe) != 0) {
        rc = bd_fail(e, BD_E_IO, errno, "pipe", BD_PATH_AS_GIVEN, 0);
        close(status_pipe[0]);
        close(status_pipe[1]);
        goto out_cgroup;
    }
    /* Above the standard descriptors and STATUS_FD, so the child's dup2 cannot clobber them. */
    int status_r = high_cloexec(status_pipe[0]), status_w = high_cloexec(status_pipe[1]);
    int err_r = high_cloexec(err_pipe[0]), err_w = high_cloexec(err_pipe[1]);
    child_plan plan = {tool, (char *const *)a.v, (char *const *)spec->env,
                       {cg.memory_by ? cg.mem_procs : "", cg.cpu_by == BD_BY_CGROUP_V1 ? cg.cpu_procs : ""},
                       status_w, err_w, 0, getpid()};
    uint32_t memory_by = cg.memory_by, cpu_by = cg.cpu_by;
    if (spec->memory_limit && !memory_by) {
        plan.rlimit_as = spec->memory_limit;
        memory_by = BD_BY_RLIMIT;
    }
    uint64_t started_ns = bd_now_ns();
    pid_t pid = fork();
    if (pid == 0)
        run_child(&plan);
    int fork_errno = errno;
    close(status_w);
    close(err_w);
    if (pid < 0) {
        close(status_r);
        close(err_r);
        rc = bd_fail(e, BD_E_IO, fork_errno, "fork", BD_PATH_AS_GIVEN, 0);
        goto out_cgroup;
    }
    int msg[2];
    ssize_t got;
    do
        got = read(err_r, msg, sizeof msg);
    while (got < 0 && errno == EINTR);
    close(err_r);
    if (got == (ssize_t)sizeof msg) {
        waitpid(pid, 0, 0);
        close(status_r);
        int step = msg[0] >= 1 && msg[0] <= 4 ? msg[0] : 4;
        rc = bd_fail(e, BD_E_IO, msg[1], CHILD_STEPS[step], BD_PATH_AS_GIVEN, step == 4 ? tool : 0);
        goto out_cgroup;
    }
    fcntl(status_r, F_SETFL, O_NONBLOCK);

    char status[1024] = {0};
    size_t status_len = 0;
    int started = 0, wstatus = 0, timed_out = 0, cancelled = 0;
    uint64_t kill_at = 0;  /* after a polite stop: when to stop asking */
    bd_error tick_e;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    for (;;) {
        pid_t w = wait4(pid, &wstatus, WNOHANG, &ru);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            rc = bd_fail(e, BD_E_IO, errno, "waitpid", BD_PATH_AS_GIVEN, 0);
            terminate(pid, child_pid_of(status), &cg, SIGKILL);
            waitpid(pid, &wstatus, 0);
            close(status_r);
            goto out_cgroup;
        }
        uint64_t now = bd_now_ns();
        if (!timed_out && spec->time_limit_ms && now - started_ns >= spec->time_limit_ms * 1000000ULL) {
            timed_out = 1;
            terminate(pid, child_pid_of(status), &cg, SIGKILL);
        }
        if (!cancelled && !timed_out) {
            bd_error_clear(&tick_e);
            if (bd_progress_tick(p, 0, &tick_e) == BD_E_CANCELLED) {
                cancelled = 1;
                terminate(pid, child_pid_of(status), &cg, SIGTERM);
                kill_at = now + GRACE_MS * 1000000ULL;
            }
        }
        if (kill_at && now >= kill_at) {
            terminate(pid, child_pid_of(status), &cg, SIGKILL);
            kill_at = 0;
        }
        if (status_r >= 0) {
            struct pollfd pfd = {status_r, POLLIN, 0};
            if (poll(&pfd, 1, POLL_MS) > 0)
                read_status(&status_r, status, sizeof status, &status_len, &started);
        } else {
            struct timespec ts = {0, POLL_MS * 1000000L};
            nanosleep(&ts, 0);
        }
    }
    if (status_r >= 0) {
        read_status(&status_r, status, sizeof status, &status_len, &started);
        if (status_r >= 0)
            close(status_r);
    }
    memset(out, 0, sizeof *out);
    out->wall_ms = (bd_now_ns() - started_ns) / 1000000ULL;
    out->memory_by = memory_by;
    out->cpu_by = cpu_by;
    out->timed_out = timed_out;
    bd_cgroup_signal(&cg, SIGKILL);  /* anything that outlived the app's namespace */
    bd_cgroup_stats(&cg, &out->peak_memory, &out->memory_killed);
    if (!out->peak_memory)
        out->peak_memory = (uint64_t)ru.ru_maxrss * 1024;  /* the largest process of the tree */
    if (WIFEXITED(wstatus)) {
        out->exited = 1;
        out->exit_code = WEXITSTATUS(wstatus);
        /* bubblewrap exits 128+N when the app died of signal N. */
        if (started && out->exit_code > 128 && out->exit_code <= 128 + 64)
            out->signal = out->exit_code - 128;
    } else if (WIFSIGNALED(wstatus)) {
        out->signal = WTERMSIG(wstatus);
        out->exit_code = 128 + out->signal;
    }
    if (cancelled)
        rc = bd_fail(e, BD_E_CANCELLED, 0, "cancel", BD_PATH_AS_GIVEN, 0);
out_cgroup:
    bd_cgroup_remove(&cg);
    free_args(&a);
    return rc;
}

bd_status bd_isolation_probe(const char *sandbox_tool, const char *cgroup_root, bd_isolation *out, bd_error *e)
{
    (void)e;
    memset(out, 0, sizeof *out);
    find_tool(sandbox_tool, out->tool, sizeof out->tool);
    out->root_view = BD_ROOT_VIEW;
    out->binds = out->network_none = out->tool[0] != 0;
    bd_cgroup cg;
    bd_cgroup_make(&cg, cgroup_root, 64ULL << 20, 1000);
    out->memory_by = cg.memory_by ? cg.memory_by : BD_BY_RLIMIT;
    out->cpu_by = cg.cpu_by;
    bd_cgroup_remove(&cg);
    return BD_OK;
}
