/* clone_tree.c: the tree clone of bd_clone.h, written only against the platform interface.
 *
 * The caller's thread walks: it takes a directory from a LIFO stack, opens it (source and
 * destination) relative to its parent's handles, lists it, creates its subdirectories and
 * links on the spot and queues its regular files.  Worker threads take files from the queue
 * (FIFO) in batches of one directory's files, and clone them with their metadata: threads
 * working in different directories mostly work in different allocation groups of the
 * filesystem (XFS spreads directories over them), so they do not queue on each other's
 * inode and extent locks.  The walker lends a hand with batches whenever the queue runs
 * long or too many directories are open, and drains the queue once the walk is done, so
 * every core stays busy without the walker racing ahead.
 *
 * Directory handles are reference counted: a directory holds its own handles while it has
 * entries still to create (`direct`: its listing plus its queued files), and each child
 * directory holds its parent's until the child's metadata is applied (by name, through the
 * parent's handles).  A directory's metadata is applied as soon as its own entries exist
 * (later changes deeper down do not touch its mtime), then its handles are closed, so the
 * handles open stay few whatever the depth or breadth of the tree.
 *
 * Hardlinks: the first name of a file with nlink > 1 is cloned; the other names met in the
 * tree are linked to it at the end, through paths walked from the staging root with
 * no-follow opens, and their directories' times are set again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_clone.h"
#include "bodega/bd_path.h"
#include "bodega/bd_remove.h"
#include "bodega/bd_thread.h"

#define LINK_BUF (64 * 1024)        /* longest link target (Windows targets can be long) */
#define BATCH_FILES 64              /* files of one directory handed out together */
#define QUEUE_PER_WORKER 2          /* queued batches per worker before the walker helps */
#define MAX_OPEN_DIRS 192           /* directories with open handles before the walker helps */
#define TICK_EVERY 1024             /* entries listed between two progress checkpoints */
#define IDLE_TICK_NS 100000000ULL   /* the caller's checkpoint while it waits for workers */
#define STAGING_PREFIX ".bodega-staging-"

#define ATOMIC_LOAD(p) bd_atomic_load_int(p)
#define ATOMIC_STORE(p, v) bd_atomic_store_int((p), (v))

/* A directory of the tree: its handles on both sides and what it waits for. */
typedef struct cdir {
    bd_dir *src, *dst;       /* open while refs > 0 */
    struct cdir *parent;     /* NULL for the root */
    uint32_t refs;           /* own activity (1 while direct > 0) + children not finished */
    uint32_t direct;         /* own entries still to create, +1 while being listed */
    bd_stat st;              /* the source's metadata, applied once direct reaches 0 */
    size_t len;              /* its name (empty for the root) */
    char name[];
} cdir;

/* A regular file to clone, packed in its batch's buffer (name right after it). */
typedef struct task {
    bd_stat st;
    size_t len;
} task;

/* Files of one directory, cloned by one thread one after the other.  One allocation for
 * all of them: the walker allocates, a worker frees, and per-file malloc/free across
 * threads would make them queue on the allocator's lock. */
typedef struct batch {
    struct batch *next;
    cdir *dir;
    uint32_t n;
    size_t used, cap;
    char *buf;               /* n tasks, each followed by its name, aligned */
} batch;

#define TASK_SIZE(len) ((sizeof(task) + (len) + 7) & ~(size_t)7)

/* A further name of a hardlinked file, linked at the end. */
typedef struct extra_link {
    char *target, *path;     /* relative paths: the first name (cloned), this name */
    size_t target_len, path_len;
    bd_stat dir_st;          /* metadata of the directory getting the link */
} extra_link;

typedef struct link_key {
    uint64_t volume, id, id_hi;
    char *path;              /* NULL: empty slot */
    size_t len;
} link_key;

typedef struct tally {
    uint64_t cloned, copied;
    uint32_t methods;
} tally;

typedef struct tree {
    uint32_t flags;
    bd_progress *p;
    bd_dir *src_parent, *dst_parent;
    const char *src_name, *staging;
    size_t src_len, staging_len;
    uint64_t staging_volume, staging_id;
    /* shared, guarded by lock */
    bd_mutex *lock;
    bd_cond *wake;           /* workers: a batch was queued, or the walk ended */
    bd_cond *idle;           /* the caller: a worker finished a batch */
    batch *head, *tail;
    size_t queued;           /* batches */
    size_t open_dirs;
    unsigned busy;
    unsigned waiting;        /* workers asleep on wake */
    int walk_done;
    int stop;                /* atomic: a failure or a cancel */
    bd_error err;            /* the first failure */
    /* the walker's own */
    cdir *root;
    cdir **dirs;             /* every directory, freed at the end */
    size_t ndirs, dirs_cap;
    cdir **stack;
    size_t nstack, stack_cap;
    link_key *keys;
    size_t nkeys, keys_cap;
    extra_link *extras;
    size_t nextras, extras_cap;
    char *specials;
    size_t specials_len, specials_cap;
    char *link;              /* LINK_BUF bytes */
    batch *filling;          /* the listed directory's files not queued yet */
    size_t high_water;
    unsigned since_tick;
    bd_clone_stats stats;
    tally own;
} tree;

typedef struct worker {
    tree *t;
    bd_thread *thread;
    bd_progress local;       /* forwards to t->p; its fn reports t's cancel */
    uint64_t sent_bytes, sent_cloned, sent_copied;
    tally own;
} worker;

/* ---- small tools -------------------------------------------------------------------- */

static int reserve(void **buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *nb = realloc(*buf, c * size);
    if (!nb)
        return 0;
    *buf = nb;
    *cap = c;
    return 1;
}

#define RESERVE(buf, cap, need) reserve((void **)&(buf), &(cap), (need), sizeof *(buf))

static bd_status no_memory(bd_error *e)
{
    return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
}

static int stopping(tree *t)
{
    return ATOMIC_LOAD(&t->stop) || bd_progress_cancelled(t->p);
}

/* The relative path of d (plus "/name"), malloc'd; NULL when out of memory. */
static char *rel_path(const cdir *d, const char *name, size_t name_len, size_t *out_len)
{
    size_t total = name ? name_len : 0;
    for (const cdir *x = d; x && x->parent; x = x->parent)
        total += x->len + 1;
    if (!name && total)
        total--;  /* no trailing separator */
    char *buf = malloc(total + 1);
    if (!buf)
        return 0;
    size_t end = total;
    if (name) {
        end -= name_len;
        memcpy(buf + end, name, name_len);
    }
    for (const cdir *x = d; x && x->parent; x = x->parent) {
        if (end < total)
            buf[--end] = '/';
        end -= x->len;
        memcpy(buf + end, x->name, x->len);
    }
    buf[total] = '\0';
    *out_len = total;
    return buf;
}

int bd_clone_blames_destination(int err)
{
    return err == ENOSPC || err == EEXIST || err == EROFS || err == EFBIG || err == EMLINK
#ifdef EDQUOT
        || err == EDQUOT
#endif
        ;
}

/* Records e as the tree's failure (the first wins), with the full relative path of
 * d/name, and stops everyone. */
static void fail(tree *t, const cdir *d, const char *name, size_t name_len, bd_error *e)
{
    if (e->code != BD_E_CANCELLED && e->code != BD_E_NOMEM) {
        size_t len = 0;
        char *path = rel_path(d, name, name_len, &len);
        if (path)
            bd_error_set_path(e, bd_clone_blames_destination(e->sys_errno) ? BD_PATH_DST : BD_PATH_SRC, path, len);
        free(path);
    }
    bd_mutex_lock(t->lock);
    if (t->err.code == BD_OK)
        t->err = *e;
    ATOMIC_STORE(&t->stop, 1);
    bd_cond_broadcast(t->wake);
    bd_cond_broadcast(t->idle);
    bd_mutex_unlock(t->lock);
}

/* ---- directories -------------------------------------------------------------------- */

static cdir *dir_new(tree *t, cdir *parent, const char *name, size_t len, const bd_stat *st)
{
    if (!RESERVE(t->dirs, t->dirs_cap, t->ndirs + 1))
        return 0;
    cdir *d = malloc(sizeof *d + (len ? len : 1));
    if (!d)
        return 0;
    memset(d, 0, sizeof *d);
    d->parent = parent;
    d->refs = 1;
    d->direct = 1;
    d->st = *st;
    d->len = len;
    memcpy(d->name, name, len);
    t->dirs[t->ndirs++] = d;
    return d;
}

/* Drops one reference; the last closes the handles.  Locked. */
static void release(tree *t, cdir *d)
{
    if (--d->refs == 0 && d->src) {
        bd_dir_close(d->src);
        bd_dir_close(d->dst);
        d->src = d->dst = 0;
        t->open_dirs--;
    }
}

/* All of d's own entries exist: its metadata goes on (the root's waits for the end). */
static void dir_finished(tree *t, cdir *d)
{
    cdir *p = d->parent;
    if (p && !stopping(t)) {
        bd_error e;
        bd_error_clear(&e);
        if (bd_meta_copy_at(p->src, d->name, d->len, p->dst, d->name, d->len, &d->st, BD_META_ALL, &e))
            fail(t, p, d->name, d->len, &e);
    }
    bd_mutex_lock(t->lock);
    release(t, d);
    if (p)
        release(t, p);
    bd_mutex_unlock(t->lock);
}

/* n of d's own entries are done. */
static void entries_done(tree *t, cdir *d, uint32_t n)
{
    bd_mutex_lock(t->lock);
    d->direct -= n;
    int last = d->direct == 0;
    bd_mutex_unlock(t->lock);
    if (last)
        dir_finished(t, d);
}

/* ---- files -------------------------------------------------------------------------- */

static void clone_one(tree *t, cdir *d, task *k, bd_progress *fp, tally *own)
{
    const char *name = (const char *)(k + 1);
    if (!stopping(t)) {
        bd_error e;
        bd_error_clear(&e);
        bd_copy_result r;
        bd_status rc = bd_file_clone_at(d->src, name, k->len, d->dst, name, k->len, t->flags, fp, &r, &e);
        if (rc == BD_OK)
            rc = bd_meta_copy_at(d->src, name, k->len, d->dst, name, k->len, &k->st, BD_META_ALL, &e);
        if (rc)
            fail(t, d, name, k->len, &e);
        else {
            own->cloned += r.bytes_cloned;
            own->copied += r.bytes_copied;
            own->methods |= 1u << r.method;
            bd_progress_add(t->p, 1, 0);
        }
    }
}

static void free_batch(batch *b)
{
    free(b->buf);
    free(b);
}

/* Clones a batch's files (fp: the thread's progress), then frees it. */
static void clone_batch(tree *t, batch *b, bd_progress *fp, tally *own)
{
    for (size_t at = 0; at < b->used;) {
        task *k = (task *)(b->buf + at);
        clone_one(t, b->dir, k, fp, own);
        at += TASK_SIZE(k->len);
    }
    entries_done(t, b->dir, b->n);
    free_batch(b);
}

/* Takes the next queued batch, or NULL.  Locked. */
static batch *dequeue(tree *t)
{
    batch *b = t->head;
    if (b) {
        t->head = b->next;
        if (!t->head)
            t->tail = 0;
        t->queued--;
    }
    return b;
}

/* The worker's progress callback: hands its counters on and reports the tree's stop. */
static int forward(const bd_progress *lp, void *ctx)
{
    worker *w = ctx;
    bd_progress_add(w->t->p, 0, lp->bytes_done - w->sent_bytes);
    bd_progress_add_io(w->t->p, lp->bytes_cloned - w->sent_cloned, lp->bytes_copied - w->sent_copied);
    w->sent_bytes = lp->bytes_done;
    w->sent_cloned = lp->bytes_cloned;
    w->sent_copied = lp->bytes_copied;
    return stopping(w->t);
}

static void worker_main(void *arg)
{
    worker *w = arg;
    tree *t = w->t;
    bd_mutex_lock(t->lock);
    for (;;) {
        while (!t->head && !t->walk_done && !ATOMIC_LOAD(&t->stop)) {
            t->waiting++;
            bd_cond_wait(t->wake, t->lock);
            t->waiting--;
        }
        batch *b = ATOMIC_LOAD(&t->stop) ? 0 : dequeue(t);
        if (!b)
            break;
        t->busy++;
        bd_mutex_unlock(t->lock);
        clone_batch(t, b, &w->local, &w->own);
        forward(&w->local, w);
        bd_mutex_lock(t->lock);
        t->busy--;
        if (t->walk_done)  /* only then does the caller wait for us */
            bd_cond_signal(t->idle);
    }
    bd_mutex_unlock(t->lock);
}

/* The caller's thread clones queued batches while the queue is longer than `keep`
 * (or directories pile up), checking progress between them. */
static void help(tree *t, size_t keep)
{
    for (;;) {
        bd_mutex_lock(t->lock);
        batch *b = t->queued > keep || (t->open_dirs > MAX_OPEN_DIRS && t->queued) ? dequeue(t) : 0;
        bd_mutex_unlock(t->lock);
        if (!b)
            return;
        clone_batch(t, b, t->p, &t->own);
        bd_error e;
        bd_error_clear(&e);
        if (bd_progress_tick(t->p, 0, &e))
            fail(t, 0, 0, 0, &e);
    }
}

/* ---- the walk ----------------------------------------------------------------------- */

static int add_special(tree *t, const cdir *d, const char *name, size_t len)
{
    size_t n = 0;
    char *path = rel_path(d, name, len, &n);
    if (!path || !RESERVE(t->specials, t->specials_cap, t->specials_len + n + 1)) {
        free(path);
        return 0;
    }
    memcpy(t->specials + t->specials_len, path, n + 1);
    t->specials_len += n + 1;
    t->stats.specials++;
    free(path);
    return 1;
}

static size_t key_slot(const tree *t, const bd_stat *st)
{
    uint64_t h = st->file_id * 0x9E3779B97F4A7C15ULL ^ st->volume_id * 0xC2B2AE3D27D4EB4FULL ^ st->file_id_hi;
    size_t i = (size_t)(h ^ (h >> 29)) & (t->keys_cap - 1);
    while (t->keys[i].path && !(t->keys[i].id == st->file_id && t->keys[i].volume == st->volume_id
                                && t->keys[i].id_hi == st->file_id_hi))
        i = (i + 1) & (t->keys_cap - 1);
    return i;
}

static int grow_keys(tree *t)
{
    size_t old_cap = t->keys_cap;
    link_key *old = t->keys;
    size_t cap = old_cap ? old_cap * 2 : 64;
    t->keys = calloc(cap, sizeof *t->keys);
    if (!t->keys) {
        t->keys = old;
        return 0;
    }
    t->keys_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].path) {
            bd_stat st;
            st.volume_id = old[i].volume;
            st.file_id = old[i].id;
            st.file_id_hi = old[i].id_hi;
            t->keys[key_slot(t, &st)] = old[i];
        }
    free(old);
    return 1;
}

/* A file with several names: 1 when it is an extra name (recorded for the end), 0 when it
 * is the first (recorded, to be cloned), -1 when out of memory. */
static int hardlink_seen(tree *t, const cdir *d, const char *name, size_t len, const bd_stat *st)
{
    if ((t->nkeys + 1) * 2 > t->keys_cap && !grow_keys(t))
        return -1;
    size_t i = key_slot(t, st);
    size_t plen = 0;
    char *path = rel_path(d, name, len, &plen);
    if (!path)
        return -1;
    link_key *k = &t->keys[i];
    if (!k->path) {
        k->volume = st->volume_id;
        k->id = st->file_id;
        k->id_hi = st->file_id_hi;
        k->path = path;
        k->len = plen;
        t->nkeys++;
        return 0;
    }
    if (!RESERVE(t->extras, t->extras_cap, t->nextras + 1)) {
        free(path);
        return -1;
    }
    extra_link *x = &t->extras[t->nextras++];
    x->target = k->path;
    x->target_len = k->len;
    x->path = path;
    x->path_len = plen;
    x->dir_st = d->st;
    return 1;
}

static int on_entry(void *ctx, const char *name, size_t len, const bd_stat *st);

/* Queues the files gathered so far (their directory now waits for them). */
static void flush(tree *t)
{
    batch *b = t->filling;
    if (!b)
        return;
    t->filling = 0;
    bd_mutex_lock(t->lock);
    b->dir->direct += b->n;
    if (t->tail)
        t->tail->next = b;
    else
        t->head = b;
    t->tail = b;
    t->queued++;
    if (t->waiting)  /* a wakeup costs a context switch: only for a worker that sleeps */
        bd_cond_signal(t->wake);
    bd_mutex_unlock(t->lock);
}

typedef struct listing {
    tree *t;
    cdir *d;
} listing;

/* Opens d's handles from its parent's, then lists it. */
static void walk_dir(tree *t, cdir *d)
{
    bd_error e;
    bd_error_clear(&e);
    if (!d->src) {
        cdir *p = d->parent;
        if (bd_dir_open_at(p->src, d->name, d->len, &d->src, &e)) {
            fail(t, p, d->name, d->len, &e);
        } else if (bd_dir_open_at(p->dst, d->name, d->len, &d->dst, &e)) {
            bd_dir_close(d->src);
            d->src = 0;
            fail(t, p, d->name, d->len, &e);
        } else {
            bd_mutex_lock(t->lock);
            t->open_dirs++;
            bd_mutex_unlock(t->lock);
        }
    }
    if (d->src && !stopping(t)) {
        listing l = { t, d };
        if (bd_dir_list(d->src, on_entry, &l, &e) && !stopping(t)) {
            /* e names the entry the listing failed on, if any */
            size_t n = strlen(e.path);
            char *name = n ? malloc(n) : 0;
            if (name)
                memcpy(name, e.path, n);
            fail(t, d, name, name ? n : 0, &e);
            free(name);
        }
    }
    flush(t);
    entries_done(t, d, 1);  /* the listing itself */
}

static int on_file(tree *t, cdir *d, const char *name, size_t len, const bd_stat *st, bd_error *e)
{
    if (st->nlink > 1) {
        int seen = hardlink_seen(t, d, name, len, st);
        if (seen < 0)
            return no_memory(e), 1;
        if (seen) {
            t->stats.hardlinks++;
            return 0;
        }
    }
    if (!t->filling && !(t->filling = calloc(1, sizeof *t->filling)))
        return no_memory(e), 1;
    batch *b = t->filling;
    b->dir = d;
    size_t need = b->used + TASK_SIZE(len);
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return no_memory(e), 1;
        b->buf = nb;
        b->cap = cap;
    }
    task *k = (task *)(b->buf + b->used);
    k->st = *st;
    k->len = len;
    memcpy(k + 1, name, len);
    b->used = need;
    t->stats.files++;  /* the total, known once the walk ends */
    t->stats.bytes += st->size;
    if (++b->n >= BATCH_FILES)
        flush(t);
    return 0;
}

static int on_link(tree *t, cdir *d, const char *name, size_t len, const bd_stat *st, bd_error *e)
{
    size_t n = 0;
    if (bd_link_read_at(d->src, name, len, t->link, LINK_BUF, &n, e)) {
        if (st->kind == BD_KIND_REPARSE) {  /* not a link we can recreate: report, skip */
            bd_error_clear(e);
            return add_special(t, d, name, len) ? 0 : (no_memory(e), 1);
        }
        return 1;
    }
    uint32_t flags = (st->attrs & 0x10) ? BD_LINK_DIR : 0;  /* FILE_ATTRIBUTE_DIRECTORY */
    if (bd_link_create_at(d->dst, name, len, t->link, n, flags, e)
        || bd_meta_copy_at(d->src, name, len, d->dst, name, len, st, BD_META_OWNER | BD_META_XATTRS | BD_META_TIMES, e))
        return 1;
    t->stats.symlinks++;
    return 0;
}

static int on_dir(tree *t, cdir *d, const char *name, size_t len, const bd_stat *st, bd_error *e)
{
    if (st->volume_id == t->staging_volume && st->file_id == t->staging_id)
        return 0;  /* our own staging directory, inside the source */
    /* Owner rwx until its metadata goes on, so we can fill it whoever we are. */
    if (bd_dir_create_at(d->dst, name, len, (st->mode & 0777) | 0700, e))
        return 1;
    if (!RESERVE(t->stack, t->stack_cap, t->nstack + 1))
        return no_memory(e), 1;
    cdir *c = dir_new(t, d, name, len, st);
    if (!c)
        return no_memory(e), 1;
    bd_mutex_lock(t->lock);
    d->refs++;
    bd_mutex_unlock(t->lock);
    t->stack[t->nstack++] = c;
    t->stats.dirs++;
    return 0;
}

static int on_entry(void *ctx, const char *name, size_t len, const bd_stat *st)
{
    listing *l = ctx;
    tree *t = l->t;
    bd_error e;
    bd_error_clear(&e);
    int stop = 0;
    switch (st->kind) {
    case BD_KIND_FILE: stop = on_file(t, l->d, name, len, st, &e); break;
    case BD_KIND_DIR: stop = on_dir(t, l->d, name, len, st, &e); break;
    case BD_KIND_SYMLINK:
    case BD_KIND_REPARSE: stop = on_link(t, l->d, name, len, st, &e); break;
    default:
        if (!add_special(t, l->d, name, len))
            stop = (no_memory(&e), 1);
        break;
    }
    if (stop) {
        fail(t, l->d, name, len, &e);
        return 1;
    }
    if (++t->since_tick >= TICK_EVERY) {
        t->since_tick = 0;
        if (bd_progress_tick(t->p, 0, &e)) {
            fail(t, 0, 0, 0, &e);
            return 1;
        }
    }
    return stopping(t);
}

/* ---- the end: hardlinks, the root's metadata, the rename ---------------------------- */

/* Opens the directory holding the last component of the relative path (from root), and
 * that directory's own parent.  *dir and *up are root itself when the path is that short;
 * close_walk closes what this opened. */
static bd_status walk_to(bd_dir *root, const char *path, size_t len, bd_dir **dir, bd_dir **up,
                         size_t *name_at, size_t *dir_name_at, bd_error *e)
{
    bd_dir *cur = root, *prev = root;
    size_t start = 0, prev_start = 0;
    for (;;) {
        const char *slash = memchr(path + start, '/', len - start);
        if (!slash)
            break;
        size_t n = (size_t)(slash - (path + start));
        bd_dir *next;
        if (bd_dir_open_at(cur, path + start, n, &next, e)) {
            if (cur != root)
                bd_dir_close(cur);
            if (prev != root && prev != cur)
                bd_dir_close(prev);
            return e->code;
        }
        if (prev != root && prev != cur)
            bd_dir_close(prev);
        prev = cur;
        prev_start = start;
        cur = next;
        start = (size_t)(slash - path) + 1;
    }
    *dir = cur;
    *up = prev;
    *name_at = start;
    *dir_name_at = prev_start;
    return BD_OK;
}

static void close_walk(bd_dir *root, bd_dir *dir, bd_dir *up)
{
    if (dir != root)
        bd_dir_close(dir);
    if (up != root && up != dir)
        bd_dir_close(up);
}

static bd_status link_extras(tree *t, bd_error *e)
{
    bd_dir *root = t->root->dst;
    for (size_t i = 0; i < t->nextras; i++) {
        extra_link *x = &t->extras[i];
        bd_dir *td, *tu, *ld, *lu;
        size_t tname, tdir, lname, ldir;
        bd_status rc = walk_to(root, x->target, x->target_len, &td, &tu, &tname, &tdir, e);
        if (rc)
            return bd_error_set_path(e, BD_PATH_DST, x->target, x->target_len), rc;
        rc = walk_to(root, x->path, x->path_len, &ld, &lu, &lname, &ldir, e);
        if (rc == BD_OK) {
            const char *dname = x->path + ldir;
            size_t dlen = lname - 1 - ldir;
            bd_error local;
            bd_error_clear(&local);
            rc = bd_hardlink_at(td, x->target + tname, x->target_len - tname, ld, x->path + lname,
                                x->path_len - lname, &local);
            if (rc && ld != root && (local.sys_errno == EACCES || local.sys_errno == EPERM)) {
                /* Its directory is read-only by now (and we are not root): open it up a moment. */
                bd_stat open_up = x->dir_st;
                open_up.mode |= 0700;
                bd_error_clear(&local);
                rc = bd_meta_copy_at(lu, dname, dlen, lu, dname, dlen, &open_up, BD_META_MODE, &local);
                if (rc == BD_OK)
                    rc = bd_hardlink_at(td, x->target + tname, x->target_len - tname, ld, x->path + lname,
                                        x->path_len - lname, &local);
            }
            /* The new name changed its directory's mtime (and maybe mode); the root's is set
             * last anyway. */
            if (rc == BD_OK && ld != root)
                rc = bd_meta_copy_at(lu, dname, dlen, lu, dname, dlen, &x->dir_st, BD_META_MODE | BD_META_TIMES, &local);
            if (rc && e && e->code == BD_OK)
                *e = local;
            close_walk(root, ld, lu);
        }
        close_walk(root, td, tu);
        if (rc)
            return bd_error_set_path(e, BD_PATH_DST, x->path, x->path_len), rc;
    }
    return BD_OK;
}

/* ---- setup and teardown ------------------------------------------------------------- */

/* A name no one else will pick: time, address and a counter mixed. */
static void staging_name(char *buf, size_t cap, unsigned attempt)
{
    static unsigned counter;
    uint64_t x = bd_now_ns() ^ ((uint64_t)(uintptr_t)buf << 16)
               ^ ((uint64_t)bd_atomic_inc_uint(&counter) << 40) ^ attempt;
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(STAGING_PREFIX);
    memcpy(buf, STAGING_PREFIX, n);
    for (int i = 0; i < 12 && n + 1 < cap; i++, x >>= 4)
        buf[n++] = hex[x & 15];
    buf[n] = '\0';
}

static bd_status make_staging(tree *t, char *name, size_t cap, bd_dir **out, bd_error *e)
{
    bd_status rc = BD_OK;
    for (unsigned attempt = 0; attempt < 16; attempt++) {
        staging_name(name, cap, attempt);
        bd_error local;
        bd_error_clear(&local);
        rc = bd_dir_create_at(t->dst_parent, name, strlen(name), 0700, &local);
        if (rc == BD_OK)
            break;
        if (local.sys_errno != EEXIST)
            return bd_fail(e, local.code, local.sys_errno, local.op, BD_PATH_AS_GIVEN, 0);
    }
    if (rc)
        return bd_fail(e, rc, EEXIST, "mkdir staging", BD_PATH_AS_GIVEN, 0);
    t->staging = name;
    t->staging_len = strlen(name);
    rc = bd_dir_open_at(t->dst_parent, name, t->staging_len, out, e);
    bd_stat st;
    if (rc == BD_OK && (rc = bd_dir_stat(*out, &st, e)) != BD_OK)
        bd_dir_close(*out);
    if (rc) {
        bd_unlink_at(t->dst_parent, name, t->staging_len, 1, 0);
        return rc;
    }
    t->staging_volume = st.volume_id;
    t->staging_id = st.file_id;
    return BD_OK;
}

static void teardown(tree *t)
{
    while (t->head)
        free_batch(dequeue(t));
    if (t->filling)
        free_batch(t->filling);
    for (size_t i = 0; i < t->ndirs; i++) {
        if (t->dirs[i]->src)
            bd_dir_close(t->dirs[i]->src);
        if (t->dirs[i]->dst)
            bd_dir_close(t->dirs[i]->dst);
        free(t->dirs[i]);
    }
    free(t->dirs);
    free(t->stack);
    for (size_t i = 0; i < t->keys_cap; i++)
        free(t->keys[i].path);
    free(t->keys);
    for (size_t i = 0; i < t->nextras; i++)
        free(t->extras[i].path);
    free(t->extras);
    free(t->specials);
    free(t->link);
    bd_cond_free(t->wake);
    bd_cond_free(t->idle);
    bd_mutex_free(t->lock);
}

static void add_tally(bd_clone_stats *s, const tally *a)
{
    s->bytes_cloned += a->cloned;
    s->bytes_copied += a->copied;
    s->methods |= a->methods;
}

/* Runs the walk and the workers; returns the tree's first failure. */
static bd_status run(tree *t, unsigned threads, bd_error *e)
{
    worker *workers = threads > 1 ? calloc(threads - 1, sizeof *workers) : 0;
    unsigned started = 0;
    if (threads > 1 && !workers)
        return no_memory(e);
    for (unsigned i = 0; i + 1 < threads; i++) {
        worker *w = &workers[i];
        w->t = t;
        bd_progress_init(&w->local);
        w->local.fn = forward;
        w->local.ctx = w;
        w->local.interval_ns = 0;
        bd_error local;
        bd_error_clear(&local);
        if (bd_thread_start(&w->thread, worker_main, w, &local) != BD_OK)
            break;  /* fewer threads: still correct */
        started++;
    }
    t->high_water = started * QUEUE_PER_WORKER;
    t->stack[t->nstack++] = t->root;
    while (t->nstack && !stopping(t)) {
        help(t, t->high_water);
        cdir *d = t->stack[--t->nstack];
        walk_dir(t, d);
        bd_error local;
        bd_error_clear(&local);
        if (bd_progress_tick(t->p, 0, &local))
            fail(t, 0, 0, 0, &local);
    }
    if (t->p && !stopping(t)) {
        t->p->files_total = t->stats.files;
        t->p->bytes_total = t->stats.bytes;
    }
    bd_mutex_lock(t->lock);
    t->walk_done = 1;
    bd_cond_broadcast(t->wake);
    bd_mutex_unlock(t->lock);
    /* The caller's thread clones what is left, then waits for the workers' last files. */
    help(t, 0);
    bd_mutex_lock(t->lock);
    while (t->busy) {
        bd_cond_timedwait(t->idle, t->lock, IDLE_TICK_NS);
        bd_mutex_unlock(t->lock);
        bd_error local;
        bd_error_clear(&local);
        if (bd_progress_tick(t->p, 0, &local))
            fail(t, 0, 0, 0, &local);
        bd_mutex_lock(t->lock);
    }
    bd_mutex_unlock(t->lock);
    for (unsigned i = 0; i < started; i++) {
        bd_thread_join(workers[i].thread);
        add_tally(&t->stats, &workers[i].own);
    }
    free(workers);
    add_tally(&t->stats, &t->own);
    t->stats.threads = started + 1;
    bd_mutex_lock(t->lock);
    bd_status rc = t->err.code;
    if (rc == BD_OK && bd_progress_cancelled(t->p))
        rc = bd_fail(&t->err, BD_E_CANCELLED, 0, "cancel", BD_PATH_AS_GIVEN, 0);
    if (rc && e && e->code == BD_OK)
        *e = t->err;
    bd_mutex_unlock(t->lock);
    return rc;
}

/* Everything after the walk: extra hardlink names, the root's metadata, into place. */
static bd_status publish(tree *t, const char *dst_name, size_t dst_len, const char *dst_path, bd_error *e)
{
    bd_status rc = link_extras(t, e);
    if (rc == BD_OK)
        rc = bd_meta_copy_at(t->src_parent, t->src_name, t->src_len, t->dst_parent, t->staging,
                             t->staging_len, &t->root->st, BD_META_ALL, e);
    if (rc == BD_OK)
        rc = bd_progress_tick(t->p, 1, e);
    if (rc)
        return rc;
    bd_error local;
    bd_error_clear(&local);
    rc = bd_rename_at(t->dst_parent, t->staging, t->staging_len, t->dst_parent, dst_name, dst_len,
                      BD_RENAME_NOREPLACE, &local);
    if (rc == BD_E_NOTSUP) {
        /* No atomic no-replace rename on this filesystem: check, then rename. */
        bd_stat st;
        bd_error_clear(&local);
        rc = bd_stat_at(t->dst_parent, dst_name, dst_len, &st, &local) == BD_OK
           ? bd_fail(&local, BD_E_IO, EEXIST, "rename", BD_PATH_AS_GIVEN, 0)
           : bd_rename_at(t->dst_parent, t->staging, t->staging_len, t->dst_parent, dst_name, dst_len, 0,
                          (bd_error_clear(&local), &local));
    }
    if (rc) {
        bd_error_set_path(&local, BD_PATH_AS_GIVEN, dst_path, strlen(dst_path));
        if (e && e->code == BD_OK)
            *e = local;
    }
    return rc;
}

bd_status bd_clone_tree(const char *src_path, const char *dst_path, uint32_t flags,
                        unsigned threads, bd_progress *p, bd_clone_stats *out, bd_error *e)
{
    if ((flags & ~(uint32_t)(BD_CLONE_REQUIRE | BD_CLONE_NEVER))
        || ((flags & BD_CLONE_REQUIRE) && (flags & BD_CLONE_NEVER)))
        return bd_fail(e, BD_E_INVAL, EINVAL, "clone flags", BD_PATH_AS_GIVEN, 0);
    if (threads == 0)
        threads = bd_cpu_count();
    if (threads > BD_CLONE_MAX_THREADS)
        threads = BD_CLONE_MAX_THREADS;
    tree t;
    memset(&t, 0, sizeof t);
    t.flags = flags;
    t.p = p;
    bd_dir *src_root = 0, *staging_dir = 0;
    const char *dst_name;
    size_t dst_len;
    char staging[64];
    bd_stat root_st, st;
    bd_status rc = bd_path_open_parent(src_path, &t.src_parent, &t.src_name, &t.src_len, e);
    if (rc)
        return rc;
    rc = bd_dir_open_at(t.src_parent, t.src_name, t.src_len, &src_root, e);
    if (rc == BD_OK)
        rc = bd_dir_stat(src_root, &root_st, e);
    if (rc) {
        bd_error_set_path(e, BD_PATH_AS_GIVEN, src_path, strlen(src_path));
        goto out;
    }
    if ((rc = bd_path_open_parent(dst_path, &t.dst_parent, &dst_name, &dst_len, e)) != BD_OK)
        goto out;
    bd_error probe;
    bd_error_clear(&probe);
    if (bd_stat_at(t.dst_parent, dst_name, dst_len, &st, &probe) == BD_OK || probe.sys_errno != ENOENT) {
        rc = probe.code ? bd_fail(e, probe.code, probe.sys_errno, probe.op, BD_PATH_AS_GIVEN, dst_path)
                        : bd_fail(e, BD_E_IO, EEXIST, "clone", BD_PATH_AS_GIVEN, dst_path);
        goto out;
    }
    if (bd_mutex_new(&t.lock, e) || bd_cond_new(&t.wake, e) || bd_cond_new(&t.idle, e)) {
        rc = e ? e->code : BD_E_NOMEM;
        goto out;
    }
    t.link = malloc(LINK_BUF);
    t.root = t.link ? dir_new(&t, 0, "", 0, &root_st) : 0;
    if (!t.root || !RESERVE(t.stack, t.stack_cap, 1)) {
        rc = no_memory(e);
        goto out;
    }
    if ((rc = make_staging(&t, staging, sizeof staging, &staging_dir, e)) != BD_OK) {
        bd_error_set_path(e, BD_PATH_AS_GIVEN, dst_path, strlen(dst_path));
        goto out;
    }
    t.root->src = src_root;
    t.root->dst = staging_dir;
    t.root->refs++;  /* kept open to the end, past its own entries */
    t.open_dirs = 1;
    src_root = 0;
    t.stats.dirs = 1;
    rc = run(&t, threads, e);
    if (rc == BD_OK)
        rc = publish(&t, dst_name, dst_len, dst_path, e);
    if (rc) {
        /* Nothing may stay behind: the staging directory goes, whatever state it is in. */
        bd_dir_close(t.root->src);
        bd_dir_close(t.root->dst);
        t.root->src = t.root->dst = 0;
        bd_error ignored;
        bd_error_clear(&ignored);
        for (size_t i = 0; i < t.ndirs; i++)  /* handles first: Windows cannot remove open dirs */
            if (t.dirs[i]->src) {
                bd_dir_close(t.dirs[i]->src);
                bd_dir_close(t.dirs[i]->dst);
                t.dirs[i]->src = t.dirs[i]->dst = 0;
            }
        bd_remove_tree(t.dst_parent, t.staging, t.staging_len, 0, &ignored);
    } else if (out) {
        *out = t.stats;
        out->special_paths = t.specials;
        out->special_paths_len = t.specials_len;
        t.specials = 0;
    }
out:
    if (src_root)
        bd_dir_close(src_root);
    if (t.lock)
        teardown(&t);
    else
        free(t.link);
    if (t.src_parent)
        bd_dir_close(t.src_parent);
    if (t.dst_parent)
        bd_dir_close(t.dst_parent);
    return rc;
}

void bd_clone_stats_free(bd_clone_stats *s)
{
    if (s) {
        free(s->special_paths);
        s->special_paths = 0;
        s->special_paths_len = 0;
    }
}
