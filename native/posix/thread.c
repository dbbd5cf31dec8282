/* thread.c (POSIX): threads, locks and the CPU count over pthreads. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#endif

#include "bodega/bd_thread.h"

struct bd_thread {
    pthread_t tid;
    bd_thread_fn fn;
    void *arg;
};

struct bd_mutex {
    pthread_mutex_t m;
};

struct bd_cond {
    pthread_cond_t c;
};

static void *thread_main(void *p)
{
    bd_thread *t = p;
    t->fn(t->arg);
    return 0;
}

bd_status bd_thread_start(bd_thread **out, bd_thread_fn fn, void *arg, bd_error *e)
{
    bd_thread *t = malloc(sizeof *t);
    if (!t)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    t->fn = fn;
    t->arg = arg;
    int err = pthread_create(&t->tid, 0, thread_main, t);
    if (err) {
        free(t);
        return bd_fail(e, BD_E_IO, err, "pthread_create", BD_PATH_AS_GIVEN, 0);
    }
    *out = t;
    return BD_OK;
}

void bd_thread_join(bd_thread *t)
{
    pthread_join(t->tid, 0);
    free(t);
}

bd_status bd_mutex_new(bd_mutex **out, bd_error *e)
{
    bd_mutex *m = malloc(sizeof *m);
    if (!m)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    pthread_mutex_init(&m->m, 0);
    *out = m;
    return BD_OK;
}

void bd_mutex_free(bd_mutex *m)
{
    if (m) {
        pthread_mutex_destroy(&m->m);
        free(m);
    }
}

void bd_mutex_lock(bd_mutex *m) { pthread_mutex_lock(&m->m); }
void bd_mutex_unlock(bd_mutex *m) { pthread_mutex_unlock(&m->m); }

bd_status bd_cond_new(bd_cond **out, bd_error *e)
{
    bd_cond *c = malloc(sizeof *c);
    if (!c)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    pthread_cond_init(&c->c, 0);
    *out = c;
    return BD_OK;
}

void bd_cond_free(bd_cond *c)
{
    if (c) {
        pthread_cond_destroy(&c->c);
        free(c);
    }
}

void bd_cond_wait(bd_cond *c, bd_mutex *m) { pthread_cond_wait(&c->c, &m->m); }

int bd_cond_timedwait(bd_cond *c, bd_mutex *m, uint64_t timeout_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + timeout_ns % 1000000000ULL;
    ts.tv_sec += (time_t)(timeout_ns / 1000000000ULL + ns / 1000000000ULL);
    ts.tv_nsec = (long)(ns % 1000000000ULL);
    return pthread_cond_timedwait(&c->c, &m->m, &ts) == 0;
}

void bd_cond_signal(bd_cond *c) { pthread_cond_signal(&c->c); }
void bd_cond_broadcast(bd_cond *c) { pthread_cond_broadcast(&c->c); }

unsigned bd_cpu_count(void)
{
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

uint64_t bd_process_id(void)
{
    return (uint64_t)getpid();
}
