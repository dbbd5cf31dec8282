/* test_process.c: bd_process_run with the test runner itself as the launched app.
 *
 * `bd_tests --child VERB ...` (test_child_main) is the app: it exits with a code, sleeps,
 * allocates, writes a file, or probes what it can see.  On POSIX it runs under bubblewrap,
 * bound read-only at /run/bd_tests; on Windows (and Wine) in a Job Object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "bodega/bd_process.h"
#include "test.h"

/* ---- the child ----------------------------------------------------------------------- */

int test_child_main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[0], "exit"))
        return atoi(argv[1]);
    if (argc >= 2 && !strcmp(argv[0], "sleep")) {
#ifdef _WIN32
        Sleep((DWORD)atoi(argv[1]));
#else
        usleep((useconds_t)atoi(argv[1]) * 1000);
#endif
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[0], "alloc")) {
        /* Touches every page, 1 MiB at a time, so the memory is really in use; each block
         * escapes through a volatile pointer, so no compiler may elide the allocation. */
        static char *volatile keep;
        long mib = atol(argv[1]);
        for (long i = 0; i < mib; i++) {
            char *p = malloc(1 << 20);
            if (!p)
                return 3;
            memset(p, (int)i, 1 << 20);
            keep = p;
        }
        return keep ? 0 : 4;
    }
    if (argc >= 2 && !strcmp(argv[0], "write-env")) {
        /* Writes "$BD_TEST_VAR|<cwd>" to the file argv[1] (relative to the cwd). */
        FILE *f = fopen(argv[1], "wb");
        if (!f)
            return 1;
        const char *v = getenv("BD_TEST_VAR");
        char cwd[1024] = "";
#ifdef _WIN32
        GetCurrentDirectoryA(sizeof cwd, cwd);
#else
        if (!getcwd(cwd, sizeof cwd))
            cwd[0] = 0;
#endif
        fprintf(f, "%s|%s", v ? v : "(unset)", cwd);
        return fclose(f) == 0 ? 0 : 1;
    }
#ifndef _WIN32
    if (argc >= 2 && !strcmp(argv[0], "exists")) {
        struct stat st;
        return stat(argv[1], &st) == 0 ? 0 : 1;
    }
    if (argc >= 2 && !strcmp(argv[0], "create")) {
        int fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL, 0644);
        return fd >= 0 ? 0 : 1;
    }
    if (argc >= 2 && !strcmp(argv[0], "fd-open")) {
        return fcntl(atoi(argv[1]), F_GETFD) == 0 || errno != EBADF ? 0 : 1;
    }
#endif
    fprintf(stderr, "bd_tests --child: unknown verb\n");
    return 99;
}

/* ---- the parent ---------------------------------------------------------------------- */

static const char *ENV[] = {"PATH=/usr/bin:/bin", "BD_TEST_VAR=hello from the spec", 0};

typedef struct launch {
    const char *argv[8];
    bd_bind bind;
    bd_process_spec spec;
} launch;

/* A spec running `bd_tests --child VERB A B` with root as the container root. */
static void prepare(launch *l, const sandbox *sb, const char *verb, const char *a, const char *b)
{
    memset(l, 0, sizeof *l);
#ifdef _WIN32
    l->argv[0] = test_self();
    l->spec.cwd = sb->path;
    l->spec.network = BD_NET_HOST;
#else
    l->bind.source = test_self();
    l->bind.target = "/run/bd_tests";
    l->bind.read_only = 1;
    l->spec.binds = &l->bind;
    l->spec.n_binds = 1;
    l->argv[0] = "/run/bd_tests";
    l->spec.cwd = BD_ROOT_VIEW;
    l->spec.network = BD_NET_NONE;
#endif
    l->argv[1] = "--child";
    l->argv[2] = verb;
    l->argv[3] = a;
    l->argv[4] = a ? b : 0;
    l->spec.argv = l->argv;
    l->spec.env = ENV;
    l->spec.root = sb->path;
}

#define NEED_SELF()                                                                    \
    do {                                                                               \
        if (!*test_self()) {                                                           \
            test_fail(__FILE__, __LINE__, "cannot find the runner's own executable");   \
            return;                                                                    \
        }                                                                              \
    } while (0)

TEST(process_exit_code_is_the_apps)
{
    NEED_SELF();
    SANDBOX(sb);
    launch l;
    prepare(&l, sb, "exit", "7", 0);
    bd_process_result r;
    bd_error e;
    ASSERT_OK(bd_process_run(&l.spec, 0, &r, &e), &e);
    ASSERT_INT(r.exited, ==, 1);
    ASSERT_INT(r.exit_code, ==, 7);
    ASSERT_INT(r.timed_out, ==, 0);
}

TEST(process_gets_the_spec_env_and_cwd_and_writes_inside_the_root)
{
    NEED_SELF();
    SANDBOX(sb);
    launch l;
    prepare(&l, sb, "write-env", "out.txt", 0);
    bd_process_result r;
    bd_error e;
    ASSERT_OK(bd_process_run(&l.spec, 0, &r, &e), &e);
    ASSERT_INT(r.exit_code, ==, 0);
    char buf[2048];
    long n = read_all(sb->dir, "out.txt", buf, sizeof buf - 1);
    ASSERT(n > 0);
    buf[n] = 0;
    char *bar = strchr(buf, '|');
    ASSERT(bar != 0);
    *bar = 0;
    ASSERT_STR(buf, "hello from the spec");
#ifndef _WIN32
    ASSERT_STR(bar + 1, BD_ROOT_VIEW);
#endif
}

TEST(process_past_its_time_limit_is_killed)
{
    NEED_SELF();
    SANDBOX(sb);
    launch l;
    prepare(&l, sb, "sleep", "20000", 0);
    l.spec.time_limit_ms = 300;
    bd_process_result r;
    bd_error e;
    ASSERT_OK(bd_process_run(&l.spec, 0, &r, &e), &e);
    ASSERT_INT(r.timed_out, ==, 1);
    ASSERT(r.wall_ms < 10000);
    ASSERT(!(r.exited && r.exit_code == 0));
}

TEST(process_cancelled_is_stopped)
{
    NEED_SELF();
    SANDBOX(sb);
    launch l;
    prepare(&l, sb, "sleep", "20000", 0);
    bd_progress p;
    bd_progress_init(&p);
    bd_progress_cancel(&p);
    bd_process_result r;
    bd_error e;
    uint64_t t0 = bd_now_ns();
    ASSERT_STATUS(bd_process_run(&l.spec, &p, &r, &e), BD_E_CANCELLED, &e);
    ASSERT(bd_now_ns() - t0 < 10000000000ULL);
}

TEST(process_above_its_memory_limit_is_stopped)
{
    NEED_SELF();
    SKIP_UNDER_WINE("job memory limits (Wine accepts JOB_OBJECT_LIMIT_JOB_MEMORY but does not enforce it)");
    SANDBOX(sb);
    launch l;
    prepare(&l, sb, "alloc", "512", 0);
    l.spec.memory_limit = 64ULL << 20;
    bd_process_result r;
    bd_error e;
    ASSERT_OK(bd_process_run(&l.spec, 0, &r, &e), &e);
    ASSERT(r.memory_by != BD_BY_NONE);
    ASSERT(!(r.exited && r.exit_code == 0));
    if (r.memory_by == BD_BY_CGROUP_V1 || r.memory_by == BD_BY_CGROUP_V2) {
        ASSERT_INT(r.memory_killed, ==, 1);
        ASSERT(r.peak_memory <= (64ULL << 20) + (1 << 20));
    }
    /* The same app under the limit, for contrast. */
    prepare(&l, sb, "alloc", "16", 0);
    l.spec.memory_limit = 64ULL << 20;
    ASSERT_OK(bd_process_run(&l.spec, 0, &r, &e), &e);
    ASSERT_INT(r.exit_code, ==, 0);
}

TEST(process_isolation_probe_describes_the_host)
{
    bd_isolation iso;
    bd_error e;
    ASSERT_OK(bd_isolation_probe(0, 0, &iso, &e), &e);
#ifdef _WIN32
    ASSERT(iso.root_view == 0);
    ASSERT_INT(iso.binds, ==, 0);
    ASSERT_INT(iso.memory_by, ==, BD_BY_JOB);
#else
    ASSERT_STR(iso.root_view, BD_ROOT_VIEW);
    ASSERT(iso.tool[0] != 0);  /* bubblewrap: .ci/run installs it */
    ASSERT(iso.memory_by != BD_BY_NONE);
#endif
}

#ifdef _WIN32

TEST(process_refuses_binds_and_a_denied_network_on_windows)
{
    NEED_SELF();
    SANDBOX(sb);
    launch l;
    prepare(&l, sb, "exit", "0", 0);
    bd_bind bind = {"C:\\data", "D:\\data", 1};
    l.spec.binds = &bind;
    l.spec.n_binds = 1;
    bd_process_result r;
    bd_error e;
    ASSERT_STATUS(bd_process_run(&l.spec, 0, &r, &e), BD_E_NOTSUP, &e);
    l.spec.n_binds = 0;
    l.spec.network = BD_NET_NONE;
    ASSERT_STATUS(bd_process_run(&l.spec, 0, &r, &e), BD_E_NOTSUP, &e);
}

#else

TEST(process_sees_no_home_and_cannot_write_the_host)
{
    NEED_SELF();
    SANDBOX(sb);
    launch l;
    bd_process_result r;
    bd_error e;
    static const char *const hidden[] = {"/root", "/home", "/var", "/mnt"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        prepare(&l, sb, "exists", hidden[i], 0);
        ASSERT_OK(bd_process_run(&l.spec, 0, &r, &e), &e);
        ASSERT_INT(r.exit_code, ==, 1);
    }
    prepare(&l, sb, "exists", "/usr/bin", 0);
    ASSERT_OK(bd_process_run(&l.spec, 0, &r, &e), &e);
    ASSERT_INT(r.exit_code, ==, 0);
    prepare(&l, sb, "create", "/usr/bodega-escaped", 0);
    ASSERT_OK(bd_process_run(&l.spec, 0, &r, &e), &e);
    ASSERT_INT(r.exit_code, ==, 1);
    ASSERT(access("/usr/bodega-escaped", F_OK) != 0);
    prepare(&l, sb, "create", BD_ROOT_VIEW "/made-inside", 0);
    ASSERT_OK(bd_process_run(&l.spec, 0, &r, &e), &e);
    ASSERT_INT(r.exit_code, ==, 0);
    char buf[8];
    ASSERT(read_all(sb->dir, "made-inside", buf, sizeof buf) == 0);
}

TEST(process_inherits_no_descriptor_but_stdio)
{
    NEED_SELF();
    SANDBOX(sb);
    int fd = open("/dev/null", O_RDONLY);  /* inheritable: no O_CLOEXEC */
    ASSERT(fd > 2);
    char num[16];
    snprintf(num, sizeof num, "%d", fd);
    launch l;
    prepare(&l, sb, "fd-open", num, 0);
    bd_process_result r;
    bd_error e;
    bd_status rc = bd_process_run(&l.spec, 0, &r, &e);
    close(fd);
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT_INT(r.exit_code, ==, 1);
}

TEST(process_without_bubblewrap_is_not_supported)
{
    SANDBOX(sb);
    launch l;
    prepare(&l, sb, "exit", "0", 0);
    l.spec.sandbox_tool = "/nonexistent/bwrap";
    bd_process_result r;
    bd_error e;
    ASSERT_STATUS(bd_process_run(&l.spec, 0, &r, &e), BD_E_NOTSUP, &e);
}

TEST(process_with_a_missing_bind_source_or_root_is_an_error_not_an_exit_code)
{
    NEED_SELF();
    SANDBOX(sb);
    launch l;
    prepare(&l, sb, "exit", "0", 0);
    l.bind.source = "/nonexistent/source";
    bd_process_result r;
    bd_error e;
    ASSERT_STATUS(bd_process_run(&l.spec, 0, &r, &e), BD_E_IO, &e);
    ASSERT_STR(e.path, "/nonexistent/source");
    prepare(&l, sb, "exit", "0", 0);
    l.spec.root = "/nonexistent/root";
    ASSERT_STATUS(bd_process_run(&l.spec, 0, &r, &e), BD_E_IO, &e);
}

#endif
