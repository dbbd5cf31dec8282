/* runner.c: runs every registered test and prints the summary line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "test.h"

#define MAX_TESTS 256

static struct { const char *name; test_fn fn; } TESTS[MAX_TESTS];
static int N_TESTS;
static const char *CURRENT;
static int CURRENT_FAILED, SKIPS;

void test_register(const char *name, test_fn fn)
{
    if (N_TESTS < MAX_TESTS) {
        TESTS[N_TESTS].name = name;
        TESTS[N_TESTS].fn = fn;
        N_TESTS++;
    }
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("FAIL %s: %s:%d: ", CURRENT, file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    CURRENT_FAILED = 1;
}

void test_fail_status(const char *file, int line, const char *expr, bd_status got,
                      bd_status want, const bd_error *e)
{
    test_fail(file, line, "%s -> %s, want %s (op \"%s\", path \"%s\", errno %d, win_error %lu)",
              expr, bd_status_name(got), bd_status_name(want), e->op ? e->op : "", e->path,
              e->sys_errno, e->win_error);
}

void test_skip(const char *why)
{
    printf("skipped under Wine: %s: %s\n", CURRENT, why);
    SKIPS++;
}

const char *test_wine_version(void)
{
#ifdef _WIN32
    static int done;
    static const char *version;
    if (!done) {
        HMODULE nt = GetModuleHandleW(L"ntdll.dll");
        FARPROC p = nt ? GetProcAddress(nt, "wine_get_version") : 0;
        if (p)
            version = ((const char *(*)(void))(void (*)(void))p)();
        done = 1;
    }
    return version;
#else
    return 0;
#endif
}

/* ---- the runner's own executable ---------------------------------------------------- */

static char SELF[2048];

void test_set_self(const char *argv0)
{
#ifdef _WIN32
    WCHAR w[1024];
    DWORD n = GetModuleFileNameW(0, w, 1024);
    (void)argv0;
    if (n && n < 1024 && !WideCharToMultiByte(CP_UTF8, 0, w, (int)n + 1, SELF, (int)sizeof SELF, 0, 0))
        SELF[0] = 0;
#else
    if (!realpath(argv0, SELF))
        SELF[0] = 0;
#endif
}

const char *test_self(void)
{
    return SELF;
}

/* ---- sandbox ------------------------------------------------------------------------ */

static void temp_base(char *out, size_t cap)
{
    const char *env = getenv("BD_TEST_TMP");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
#ifdef _WIN32
    DWORD n = GetTempPathA((DWORD)cap, out);
    if (n == 0 || n >= cap)
        snprintf(out, cap, ".");
#else
    env = getenv("TMPDIR");
    snprintf(out, cap, "%s", env && *env ? env : "/tmp");
#endif
    size_t len = strlen(out);
    while (len > 1 && (out[len - 1] == '/' || out[len - 1] == '\\'))
        out[--len] = '\0';
}

#define MAX_SANDBOXES 8
static sandbox *SANDBOXES[MAX_SANDBOXES];
static int N_SANDBOXES;

sandbox *sandbox_new(void)
{
    static unsigned counter;
    char base[900], name[64];
    bd_error e;
    bd_dir *root;
    temp_base(base, sizeof base);
#ifdef _WIN32
    unsigned long pid = GetCurrentProcessId();
#else
    unsigned long pid = (unsigned long)getpid();
#endif
    snprintf(name, sizeof name, "bd-ctest-%lu-%ld-%u", pid, (long)time(0), counter++);
    bd_error_clear(&e);
    if (N_SANDBOXES == MAX_SANDBOXES || bd_dir_open(base, &root, &e) != BD_OK)
        return 0;
    sandbox *sb = calloc(1, sizeof *sb);
    int ok = sb && bd_dir_create_at(root, name, strlen(name), 0755, &e) == BD_OK
          && bd_dir_open_at(root, name, strlen(name), &sb->dir, &e) == BD_OK;
    bd_dir_close(root);
    if (!ok) {
        free(sb);
        return 0;
    }
#ifdef _WIN32
    snprintf(sb->path, sizeof sb->path, "%s\\%s", base, name);
#else
    snprintf(sb->path, sizeof sb->path, "%s/%s", base, name);
#endif
    SANDBOXES[N_SANDBOXES++] = sb;
    return sb;
}

typedef struct names {
    char **v;
    uint8_t *kind;
    size_t n, cap;
} names;

static int collect(void *ctx, const char *name, size_t len, const bd_stat *st)
{
    names *ns = ctx;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 16;
        ns->v = realloc(ns->v, ns->cap * sizeof *ns->v);
        ns->kind = realloc(ns->kind, ns->cap);
    }
    ns->v[ns->n] = malloc(len + 1);
    memcpy(ns->v[ns->n], name, len);
    ns->v[ns->n][len] = '\0';
    ns->kind[ns->n++] = st->kind;
    return 0;
}

int remove_tree(bd_dir *parent, const char *name)
{
    bd_error e;
    bd_error_clear(&e);
    bd_dir *d;
    if (bd_dir_open_at(parent, name, strlen(name), &d, &e) != BD_OK)
        return -1;
    names ns = { 0, 0, 0, 0 };
    int rc = bd_dir_list(d, collect, &ns, &e) == BD_OK ? 0 : -1;
    for (size_t i = 0; i < ns.n; i++) {
        if (rc == 0) {
            bd_error_clear(&e);
            if (ns.kind[i] == BD_KIND_DIR)
                rc = remove_tree(d, ns.v[i]);
            else
                rc = bd_unlink_at(d, ns.v[i], strlen(ns.v[i]), 0, &e) == BD_OK ? 0 : -1;
        }
        free(ns.v[i]);
    }
    free(ns.v);
    free(ns.kind);
    bd_dir_close(d);
    bd_error_clear(&e);
    if (rc == 0 && bd_unlink_at(parent, name, strlen(name), 1, &e) != BD_OK)
        rc = -1;
    return rc;
}

static void sandbox_close(sandbox *sb)
{
    bd_dir_close(sb->dir);
    const char *slash = strrchr(sb->path, '/');
#ifdef _WIN32
    const char *bs = strrchr(sb->path, '\\');
    if (!slash || (bs && bs > slash))
        slash = bs;
#endif
    char base[1024];
    size_t n = (size_t)(slash - sb->path);
    memcpy(base, sb->path, n);
    base[n] = '\0';
    bd_error e;
    bd_error_clear(&e);
    bd_dir *root;
    if (bd_dir_open(n ? base : "/", &root, &e) == BD_OK) {
        if (remove_tree(root, slash + 1) != 0)
            printf("warning: could not remove %s\n", sb->path);
        bd_dir_close(root);
    }
    free(sb);
}

int sandbox_write(const sandbox *sb, const char *rel, const void *data, size_t n)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", sb->path, rel);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = fwrite(data, 1, n, f) == n ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

long resident_pages(const sandbox *sb, const char *rel)
{
#ifdef _WIN32
    (void)sb, (void)rel;
    return -1;
#else
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", sb->path, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = ((size_t)st.st_size + page - 1) / page;
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *vec = malloc(pages);
    long resident = -1;
    if (map != MAP_FAILED && vec && mincore(map, (size_t)st.st_size, vec) == 0)
        for (size_t i = resident = 0; i < pages; i++)
            resident += vec[i] & 1;
    free(vec);
    if (map != MAP_FAILED)
        munmap(map, (size_t)st.st_size);
    close(fd);
    return resident;
#endif
}

int sandbox_sync(const sandbox *sb, const char *rel)
{
#ifdef _WIN32
    (void)sb, (void)rel;
    return 0;
#else
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", sb->path, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return rc;
#endif
}

long read_all(bd_dir *d, const char *name, char *buf, size_t cap)
{
    bd_error e;
    bd_error_clear(&e);
    bd_file *f;
    if (bd_file_open_read(d, name, strlen(name), &f, 0, &e) != BD_OK)
        return -1;
    size_t total = 0;
    for (;;) {
        size_t got;
        if (bd_file_pread(f, buf + total, cap - total, total, &got, &e) != BD_OK) {
            bd_file_close(f);
            return -1;
        }
        if (got == 0 || total + got == cap) {
            total += got;
            break;
        }
        total += got;
    }
    bd_file_close(f);
    return (long)total;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    if (argc > 1 && !strcmp(argv[1], "--child"))
        return test_child_main(argc - 2, argv + 2);  /* started by a test as its subject */
    test_set_self(argv[0]);
    setvbuf(stdout, 0, _IONBF, 0);
    if (test_wine_version())
        printf("running under Wine %s\n", test_wine_version());
    for (int i = 0; i < N_TESTS; i++) {
        CURRENT = TESTS[i].name;
        CURRENT_FAILED = 0;
        TESTS[i].fn();
        while (N_SANDBOXES > 0)
            sandbox_close(SANDBOXES[--N_SANDBOXES]);
        if (CURRENT_FAILED)
            failed++;
        else
            passed++;
    }
    if (SKIPS)
        printf("%d parts skipped under Wine (listed above)\n", SKIPS);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
