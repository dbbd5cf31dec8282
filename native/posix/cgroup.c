/* cgroup.c (POSIX): a private cgroup per launched app (see cgroup.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bodega/bd_process.h"
#include "bodega/bd_thread.h"
#include "cgroup.h"

#define CPU_PERIOD_US 100000

static int write_text(const char *dir, const char *file, const char *text)
{
    char path[BD_CG_PATH + 64];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return -1;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int saved = errno;
    close(fd);
    errno = saved;
    return w == (ssize_t)n ? 0 : -1;
}

static long read_text(const char *dir, const char *file, char *buf, size_t cap)
{
    char path[BD_CG_PATH + 64];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return (long)n;
}

static int exists(const char *dir, const char *file)
{
    char path[BD_CG_PATH + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return stat(path, &st) == 0;
}

/* Our own cgroup path in the hierarchy whose controller list contains `controller`
 * ("" for the v2 line "0::"), and that list (the v1 mount's directory name). */
static int own_cgroup(const char *controller, char *path, size_t cap, char *mount, size_t mcap)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -1;
    char line[2048];
    int found = -1;
    while (found && fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : 0;
        if (!c2)
            continue;
        *c2 = 0;
        const char *list = c1 + 1;
        char *rel = c2 + 1;
        rel[strcspn(rel, "\n")] = 0;
        int match = 0;
        if (!*controller) {
            match = !*list && line[0] == '0';
        } else {
            char copy[256];
            snprintf(copy, sizeof copy, "%s", list);
            for (char *save = 0, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(0, ",", &save))
                if (!strcmp(tok, controller))
                    match = 1;
        }
        if (match) {
            snprintf(path, cap, "%s", strcmp(rel, "/") ? rel : "");
            snprintf(mount, mcap, "%s", list);
            found = 0;
        }
    }
    fclose(f);
    return found;
}

static void unique_name(char *out, size_t cap)
{
    static volatile unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned n = bd_atomic_inc_uint(&counter);
    snprintf(out, cap, "bodega-%ld-%u-%lx", (long)getpid(), n, (unsigned long)ts.tv_nsec);
}

static int make_child(const char *parent, char *out)
{
    char name[96];
    unique_name(name, sizeof name);
    if (snprintf(out, BD_CG_PATH, "%s/%s", parent, name) >= BD_CG_PATH)
        return -1;
    if (mkdir(out, 0755) != 0) {
        out[0] = 0;
        return -1;
    }
    return 0;
}

static void set_procs(char *procs, const char *dir)
{
    snprintf(procs, BD_CG_PATH + 16, "%s/cgroup.procs", dir);
}

static void make_v2(bd_cgroup *cg, const char *root, uint64_t memory_limit, uint32_t cpu_millicores)
{
    char rel[BD_CG_PATH], list[64], parent[BD_CG_PATH];
    if (own_cgroup("", rel, sizeof rel, list, sizeof list) != 0)
        return;
    if (snprintf(parent, sizeof parent, "%s%s", root, rel) >= (int)sizeof parent)
        return;
    char dir[BD_CG_PATH];
    if (make_child(parent, dir) != 0)
        return;
    if ((memory_limit && !exists(dir, "memory.max")) || (cpu_millicores && !exists(dir, "cpu.max"))) {
        /* The controllers are not delegated to children yet: ask (refused while our own
         * cgroup holds processes and is not the root, the "no internal processes" rule). */
        write_text(parent, "cgroup.subtree_control", memory_limit && cpu_millicores ? "+memory +cpu"
                                                    : memory_limit ? "+memory" : "+cpu");
    }
    cg->version = 2;
    snprintf(cg->mem, sizeof cg->mem, "%s", dir);
    set_procs(cg->mem_procs, dir);
    char text[64];
    if (memory_limit) {
        snprintf(text, sizeof text, "%llu", (unsigned long long)memory_limit);
        if (write_text(dir, "memory.max", text) == 0) {
            write_text(dir, "memory.swap.max", "0");
            cg->memory_by = BD_BY_CGROUP_V2;
        }
    }
    if (cpu_millicores) {
        snprintf(text, sizeof text, "%llu %d",
                 (unsigned long long)cpu_millicores * CPU_PERIOD_US / 1000, CPU_PERIOD_US);
        if (write_text(dir, "cpu.max", text) == 0)
            cg->cpu_by = BD_BY_CGROUP_V2;
    }
}

/* One v1 controller's cgroup: made below ours in that hierarchy, limit written. */
static int make_v1(const char *root, const char *controller, char *out, const char *file, const char *value)
{
    char rel[BD_CG_PATH], mount[256], parent[BD_CG_PATH];
    if (own_cgroup(controller, rel, sizeof rel, mount, sizeof mount) != 0)
        return -1;
    if (snprintf(parent, sizeof parent, "%s/%s%s", root, mount, rel) >= (int)sizeof parent)
        return -1;
    if (make_child(parent, out) != 0)
        return -1;
    if (write_text(out, file, value) != 0) {
        rmdir(out);
        out[0] = 0;
        return -1;
    }
    return 0;
}

void bd_cgroup_make(bd_cgroup *cg, const char *cgroup_root, uint64_t memory_limit, uint32_t cpu_millicores)
{
    memset(cg, 0, sizeof *cg);
    cg->memory_limit = memory_limit;
    if (!memory_limit && !cpu_millicores)
        return;
    const char *root = cgroup_root ? cgroup_root : "/sys/fs/cgroup";
    if (exists(root, "cgroup.controllers")) {
        make_v2(cg, root, memory_limit, cpu_millicores);
        if ((memory_limit && cg->memory_by == BD_BY_NONE) || (cpu_millicores && cg->cpu_by == BD_BY_NONE)) {
            if (cg->memory_by == BD_BY_NONE && cg->cpu_by == BD_BY_NONE)
                bd_cgroup_remove(cg);
        }
        return;
    }
    char text[64];
    if (memory_limit) {
        snprintf(text, sizeof text, "%llu", (unsigned long long)memory_limit);
        if (make_v1(root, "memory", cg->mem, "memory.limit_in_bytes", text) == 0) {
            write_text(cg->mem, "memory.memsw.limit_in_bytes", text);  /* swap too, where accounted */
            set_procs(cg->mem_procs, cg->mem);
            cg->memory_by = BD_BY_CGROUP_V1;
        }
    }
    if (cpu_millicores) {
        snprintf(text, sizeof text, "%llu", (unsigned long long)cpu_millicores * CPU_PERIOD_US / 1000);
        if (make_v1(root, "cpu", cg->cpu, "cpu.cfs_quota_us", text) == 0) {
            set_procs(cg->cpu_procs, cg->cpu);
            cg->cpu_by = BD_BY_CGROUP_V1;
        }
    }
    if (cg->memory_by || cg->cpu_by)
        cg->version = 1;
}

static int signal_dir(const char *dir, int sig)
{
    if (!*dir)
        return 0;
    char buf[65536];
    if (read_text(dir, "cgroup.procs", buf, sizeof buf) < 0)
        return 0;
    int n = 0;
    for (char *save = 0, *tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(0, "\n", &save)) {
        long pid = strtol(tok, 0, 10);
        if (pid > 0 && kill((pid_t)pid, sig) == 0)
            n++;
    }
    return n;
}

int bd_cgroup_signal(const bd_cgroup *cg, int sig)
{
    if (!cg->version)
        return 0;
    if (cg->version == 2 && sig == SIGKILL && write_text(cg->mem, "cgroup.kill", "1") == 0)
        return 1;
    int n = signal_dir(cg->mem, sig);
    if (strcmp(cg->cpu, cg->mem))
        n += signal_dir(cg->cpu, sig);
    return n;
}

static uint64_t keyed(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : 0)
        if (!strncmp(line, key, k) && line[k] == ' ')
            return strtoull(line + k + 1, 0, 10);
    return 0;
}

void bd_cgroup_stats(const bd_cgroup *cg, uint64_t *peak, int *oom_killed)
{
    char buf[4096];
    *peak = 0;
    *oom_killed = 0;
    if (!cg->memory_by)
        return;
    if (cg->version == 2) {
        if (read_text(cg->mem, "memory.peak", buf, sizeof buf) > 0)
            *peak = strtoull(buf, 0, 10);
        if (read_text(cg->mem, "memory.events", buf, sizeof buf) > 0)
            *oom_killed = keyed(buf, "oom_kill") > 0;
        return;
    }
    if (read_text(cg->mem, "memory.max_usage_in_bytes", buf, sizeof buf) > 0)
        *peak = strtoull(buf, 0, 10);
    if (read_text(cg->mem, "memory.oom_control", buf, sizeof buf) > 0 && strstr(buf, "oom_kill "))
        *oom_killed = keyed(buf, "oom_kill") > 0;
    else if (read_text(cg->mem, "memory.failcnt", buf, sizeof buf) > 0)
        *oom_killed = strtoull(buf, 0, 10) > 0 && *peak >= cg->memory_limit;
}

static void remove_dir(char *dir)
{
    if (!*dir)
        return;
    /* rmdir fails with EBUSY until the last process has left: retry for up to a second. */
    for (int i = 0; i < 100 && rmdir(dir) != 0 && errno == EBUSY; i++) {
        signal_dir(dir, SIGKILL);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, 0);
    }
    dir[0] = 0;
}

void bd_cgroup_remove(bd_cgroup *cg)
{
    if (strcmp(cg->cpu, cg->mem))
        remove_dir(cg->cpu);
    remove_dir(cg->mem);
    cg->cpu[0] = 0;
    cg->version = 0;
}
