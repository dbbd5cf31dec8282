/* scan_floor.c: the least a tree scan can cost on this machine.
 *
 * THREADS threads take directories from a shared queue, list each with getdents64 (256 KiB
 * buffer) and fstatat() every entry; nothing is kept, sorted or compared.  Any scan that
 * tells a changed file from an unchanged one by its stat does at least this.  Prints the
 * entries seen and the median of ROUNDS wall times in milliseconds; with ROUNDS 0, scans once
 * untimed, then once per line read on stdin, printing the entries and that scan's time.
 *
 *   cc -O2 -pthread -o scan_floor scan_floor.c && ./scan_floor TREE THREADS ROUNDS
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DENTS_BUF (256 * 1024)

static int *queue;
static size_t queued, queue_cap, taken;
static unsigned listing;  /* directories being listed: their subdirectories may still come */
static long entries;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;

static void push(int fd)
{
    pthread_mutex_lock(&lock);
    if (queued == queue_cap) {
        queue_cap = queue_cap ? 2 * queue_cap : 4096;
        queue = realloc(queue, queue_cap * sizeof *queue);
        if (!queue) {
            perror("realloc");
            exit(2);
        }
    }
    queue[queued++] = fd;
    pthread_cond_signal(&more);
    pthread_mutex_unlock(&lock);
}

static int is_dot(const char *n)
{
    return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

static void *worker(void *arg)
{
    (void)arg;
    char *buf = malloc(DENTS_BUF);
    long seen = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (taken == queued && listing)
            pthread_cond_wait(&more, &lock);
        if (taken == queued) {
            pthread_cond_broadcast(&more);
            pthread_mutex_unlock(&lock);
            break;
        }
        int dir = queue[taken++];
        listing++;
        pthread_mutex_unlock(&lock);
        long n;
        while ((n = syscall(SYS_getdents64, dir, buf, DENTS_BUF)) > 0)
            for (long off = 0; off < n;) {
                struct dirent64 *d = (struct dirent64 *)(buf + off);
                off += d->d_reclen;
                if (is_dot(d->d_name))
                    continue;
                struct stat st;
                if (d->d_type == DT_DIR) {
                    int sub = openat(dir, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                    if (sub >= 0 && fstat(sub, &st) == 0)
                        push(sub);
                } else {
                    fstatat(dir, d->d_name, &st, AT_SYMLINK_NOFOLLOW);
                }
                seen++;
            }
        close(dir);
        pthread_mutex_lock(&lock);
        listing--;
        pthread_cond_broadcast(&more);
        pthread_mutex_unlock(&lock);
    }
    free(buf);
    pthread_mutex_lock(&lock);
    entries += seen;
    pthread_mutex_unlock(&lock);
    return 0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One scan of tree on threads threads: its wall time in milliseconds (entries: what it saw). */
static double scan_once(const char *tree, int threads)
{
    pthread_t t[64];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    queued = taken = 0;
    listing = 0;
    entries = 0;
    int root = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        perror(tree);
        exit(1);
    }
    push(root);
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], 0, worker, 0);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: scan_floor TREE THREADS ROUNDS\n");
        return 2;
    }
    int threads = atoi(argv[2]), rounds = atoi(argv[3]);
    if (threads < 1 || threads > 64 || rounds < 0 || rounds > 100) {
        fprintf(stderr, "scan_floor: THREADS 1..64, ROUNDS 0..100\n");
        return 2;
    }
    if (rounds == 0) {
        /* Served: one untimed scan, then one timed scan per line read, each answered with a
         * line, so that a benchmark can take turns between it and other contenders while
         * this process stays warm, as an in-process contender does. */
        char line[64];
        scan_once(argv[1], threads);
        while (fgets(line, sizeof line, stdin)) {
            double ms = scan_once(argv[1], threads);
            printf("%ld %.2f\n", entries, ms);
            fflush(stdout);
        }
        return 0;
    }
    double ms[100];
    for (int r = 0; r < rounds; r++)
        ms[r] = scan_once(argv[1], threads);
    qsort(ms, rounds, sizeof *ms, by_value);
    printf("%ld %.2f\n", entries, ms[rounds / 2]);
    return 0;
}
