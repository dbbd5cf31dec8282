/* bd_thread.h: the threads, locks, atomics and CPU count the portable code needs (pthreads
 * on POSIX, Win32 threads on Windows).
 *
 * The atomics below are the only place in native/ that names a compiler's atomic builtins:
 * GCC and Clang (__atomic_*, which mingw-w64 has too) and MSVC (_Interlocked*, full
 * barriers, so at least as strong as the acquire/release asked for; clang-cl takes this
 * branch too, which is how the tests compile it here).  Loads acquire, stores
 * release, read-modify-writes are sequentially consistent or relaxed as named. */
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

/* This process's id: a forked child sees another one than its parent, so state kept for
 * threads of the parent (which the child does not have) can be told apart. */
uint64_t bd_process_id(void);

/* ---- atomics ---------------------------------------------------------------------- */

#if defined(_MSC_VER)  /* MSVC, and clang-cl with the MSVC ABI */
#include <intrin.h>

static inline int bd_atomic_load_int(const volatile int *p)
{
    return (int)_InterlockedOr((volatile long *)p, 0);
}
static inline void bd_atomic_store_int(volatile int *p, int v)
{
    _InterlockedExchange((volatile long *)p, (long)v);
}
static inline int bd_atomic_fetch_or_int(volatile int *p, int v)
{
    return (int)_InterlockedOr((volatile long *)p, (long)v);
}
static inline unsigned bd_atomic_inc_uint(volatile unsigned *p)
{
    return (unsigned)_InterlockedIncrement((volatile long *)p);
}
static inline uint64_t bd_atomic_load_u64(const volatile uint64_t *p)
{
    return (uint64_t)_InterlockedOr64((volatile long long *)p, 0);
}
static inline uint64_t bd_atomic_fetch_add_u64(volatile uint64_t *p, uint64_t v)
{
    return (uint64_t)_InterlockedExchangeAdd64((volatile long long *)p, (long long)v);
}
static inline uint64_t bd_atomic_exchange_u64(volatile uint64_t *p, uint64_t v)
{
    return (uint64_t)_InterlockedExchange64((volatile long long *)p, (long long)v);
}
/* Sets *p to v if it holds expected; 1 when it did. */
static inline int bd_atomic_cas_u64(volatile uint64_t *p, uint64_t expected, uint64_t v)
{
    return (uint64_t)_InterlockedCompareExchange64((volatile long long *)p, (long long)v, (long long)expected)
           == expected;
}

#elif defined(__GNUC__) || defined(__clang__)

static inline int bd_atomic_load_int(const volatile int *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void bd_atomic_store_int(volatile int *p, int v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline int bd_atomic_fetch_or_int(volatile int *p, int v)
{
    return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
}
static inline unsigned bd_atomic_inc_uint(volatile unsigned *p)
{
    return __atomic_add_fetch(p, 1u, __ATOMIC_RELAXED);
}
static inline uint64_t bd_atomic_load_u64(const volatile uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline uint64_t bd_atomic_fetch_add_u64(volatile uint64_t *p, uint64_t v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
static inline uint64_t bd_atomic_exchange_u64(volatile uint64_t *p, uint64_t v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
/* Sets *p to v if it holds expected; 1 when it did. */
static inline int bd_atomic_cas_u64(volatile uint64_t *p, uint64_t expected, uint64_t v)
{
    return __atomic_compare_exchange_n(p, &expected, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

#else
#error "bd_thread.h: no atomics for this compiler (add a branch here)"
#endif

#endif
