/* bd_thread.h: the threads, locks and CPU count the portable code needs (pthreads on
 * POSIX, Win32 threads on Windows). */
#ifndef BODEGA_BD_THREAD_H
#define BODEGA_BD_THREAD_H

#include <stdint.h>
#include "bd_status.h"

typedef struct bd_thread bd_thread;
typedef struct bd_mutex bd_mutex;
typedef struct bd_cond bd_cond;

typedef void (*bd_thread_fn)(void *arg);

bd_status bd_thread_start(bd_thread **out, bd_thread_fn fn, void *arg, bd_error *e);
void bd_thread_join(bd_thread *t);   /* waits and frees */

bd_status bd_mutex_new(bd_mutex **out, bd_error *e);
void bd_mutex_free(bd_mutex *m);
void bd_mutex_lock(bd_mutex *m);
void bd_mutex_unlock(bd_mutex *m);

bd_status bd_cond_new(bd_cond **out, bd_error *e);
void bd_cond_free(bd_cond *c);
void bd_cond_wait(bd_cond *c, bd_mutex *m);
/* Waits at most timeout_ns; returns 1 when woken, 0 on timeout. */
int bd_cond_timedwait(bd_cond *c, bd_mutex *m, uint64_t timeout_ns);
void bd_cond_signal(bd_cond *c);
void bd_cond_broadcast(bd_cond *c);

/* Number of CPUs this process may run on (at least 1). */
unsigned bd_cpu_count(void);

#endif
