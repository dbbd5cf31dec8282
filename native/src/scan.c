/* scan.c: the tree scan of bd_scan.h, written only against the platform interface.
 *
 * Two phases.  The walk lists directories on one or more threads: each directory is a
 * task on a shared LIFO stack.  A subdirectory is opened (no-follow, relative to its
 * parent's handle) as soon as its parent's listing meets it, and its metadata read from
 * that handle, which its task carries: one call fewer than a stat by name and a later
 * open, and its parent's handle need not stay open for it.  Beyond MAX_AHEAD handles so
 * held, a subdirectory is opened when its task is taken, from its parent's handle (cached,
 * at most MAX_CACHED, else reopened), and its metadata read then from that handle when the
 * listing gave none (read_subdir), else the handle is checked to be the directory listed.
 * A directory's entries are appended in batches to one shared entry array (full
 * paths and link targets to the arena), each batch recorded as a "run" of its directory's
 * children, sorted by name by the worker that listed it (a subdirectory twice: itself by
 * "name", its contents by "name/").  Then the ordering phase, on the caller's thread, visits directories depth
 * first, taking each one's children in that order (only a directory listed in several runs
 * is sorted again), which yields the byte order of full paths, and permutes the entry array
 * in place (or, for a manifest built from the scan, hands over that order instead: its rows
 * are filled through it, on two threads, and the entries are never moved; scan_order.h).
 *
 * Memory: 96 bytes per entry plus its path, 4 bytes per entry (8 per directory) of sorted
 * order, a 4-byte permutation during the ordering, a few bytes per directory, and no
 * allocation per entry.
 */
#include <errno.h>  /* sys_errno values: POSIX errno, or the Windows mapping onto it */
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_memory.h"
#include "bodega/bd_scan.h"
#include "bodega/bd_thread.h"
#include "scan_order.h"

#define NO_INDEX UINT32_MAX
#define BATCH_ENTRIES 256        /* entries a worker gathers before taking the lock */
#define LINK_BUF (64 * 1024)     /* longest link target read (Windows targets can be long) */
#define TICK_EVERY 1024          /* entries between two progress checkpoints */
#define IDLE_TICK_NS 100000000ULL
#define MAX_VOLUMES 65535u
#define CARRY_CHUNK 16u          /* handles a worker may open ahead per lock hold */
/* The handles held: most opened ahead for directories still to list (wide directories
 * need many), the rest cached for subdirectories still to open from them by name.  A
 * directory beyond MAX_AHEAD (6.4k of the 11.5k directories of /usr/lib with
 * BD_SCAN_MAX_OPEN 128) costs no stat more: its metadata is read once, from its handle. */
#define MAX_CACHED (BD_SCAN_MAX_OPEN / 4)
#define MAX_AHEAD (BD_SCAN_MAX_OPEN - MAX_CACHED)

/* During the walk, the kind of a directory's entry that vanished before its opening: it is
 * left out of the scan (order). */
#define KIND_GONE BD_KIND_NONE

#define ATOMIC_LOAD(p) bd_atomic_load_int(p)
#define ATOMIC_STORE(p, v) bd_atomic_store_int((p), (v))

struct bd_scan {
    bd_scan_entry *entries;
    size_t count;
    uint32_t *order;      /* sorted position -> index in entries; NULL when entries are sorted */
    char *arena;
    size_t arena_len;
    uint64_t *volumes;
    size_t nvolumes;
};

/* A directory met during the walk; dir 0 is the root. */
typedef struct scan_dir {
    bd_dir *handle;       /* open while subdirectories wait to be opened from it, or from
                           * its parent's listing until its own task takes it */
    uint32_t entry;       /* its entry; NO_INDEX for the root */
    uint32_t parent;      /* parent dir; NO_INDEX for the root */
    uint32_t pending;     /* subdirectories not opened yet, +1 while it is being listed */
    uint32_t users;       /* threads opening a subdirectory from handle right now */
    uint32_t first_run, last_run;
    uint32_t sorted_pos;  /* ordering: index of its entry once sorted */
    unsigned char unread; /* its entry holds no metadata yet: its task reads it (open_task) */
} scan_dir;

/* Consecutive entries of one directory, appended by one flush, and their sorted order:
 * items codes at order[] from `order` (a code is the entry's index in the run times two,
 * plus one for a subdirectory's block). */
typedef struct scan_run {
    uint32_t start, count, next;
    uint32_t order, items;
} scan_run;

/* A child in its directory's sort: the entry itself ("name") or, for a subdirectory, the
 * block of its contents ("name/"). */
typedef struct sort_item {
    const unsigned char *name;
    uint64_t key;      /* its first 8 bytes (a block's '/' included) big-endian, 0-padded */
    uint32_t len;
    uint32_t ref;      /* entry index (in its batch, or in the walk), or dir index for a block */
    uint32_t block;
} sort_item;

/* What the walking threads share; everything below `lock` is guarded by it. */
typedef struct walk {
    bd_progress *p;
    int stop;                 /* set on failure or cancel (atomic) */
    bd_mutex *lock;
    bd_cond *wake;
    bd_scan_entry *entries;   /* until sorted, a directory's `parent` is its own dir index */
    size_t n, entries_cap;
    char *arena;
    size_t arena_len, arena_cap;
    scan_dir *dirs;
    size_t ndirs, dirs_cap;
    scan_run *runs;
    size_t nruns, runs_cap;
    uint32_t *order;          /* the runs' sorted orders */
    size_t norder, order_cap;
    uint32_t *tasks;
    size_t ntasks, tasks_cap;
    uint64_t *volumes;
    size_t nvolumes, volumes_cap;
    unsigned busy;            /* workers listing a directory */
    unsigned idle;            /* workers waiting for a task (wake) */
    size_t open_handles;      /* in dirs[].handle, the root's included */
    size_t ahead;             /* of those, opened ahead for directories not taken yet */
    size_t reserved;          /* the workers' budgets, and handles in their batches */
    size_t gone;              /* entries of KIND_GONE */
    bd_error err;             /* the first failure */
} walk;

/* One walking thread's private state. */
typedef struct worker {
    walk *w;
    int is_main;              /* the caller's thread: the only one that may tick */
    /* The task: a directory, taken from the stack, opened, listed, finished. */
    uint32_t dir;
    char *prefix;             /* its path and a '/' ("" for the root) */
    size_t prefix_len, prefix_cap;
    bd_scan_entry seen;       /* its entry, as its parent's listing saw it */
    uint64_t seen_volume;
    int seen_unread;          /* ... which read no metadata for it (scan_dir.unread) */
    int settle;               /* own holds the metadata its entry still lacks (settle_locked) */
    bd_stat own;
    uint16_t own_volume;
    bd_dir *from;             /* the parent's handle it is opened from */
    int from_temp;            /* from was reopened for this task: close it when done */
    int holds_parent;         /* the parent is still waiting for this task to open */
    bd_dir *handle;           /* the directory, once opened */
    bd_dir *closing[3];       /* handles finish_locked let go, closed once the lock is released */
    unsigned nclosing;
    int published;            /* handle is in dirs[dir], pinned by this task (pending) */
    bd_scan_entry batch[BATCH_ENTRIES];
    bd_dir *carried[BATCH_ENTRIES];      /* a subdirectory of the batch, opened ahead */
    unsigned char unread[BATCH_ENTRIES]; /* a subdirectory of the batch without metadata */
    unsigned budget;                     /* handles it may still open ahead (w->reserved) */
    int budget_spent;                    /* the walk had none left to give this task */
    uint32_t nbatch;
    sort_item items[2 * BATCH_ENTRIES];  /* the batch sorted by name (sort_batch) */
    sort_item scratch[2 * BATCH_ENTRIES];
    uint32_t order[2 * BATCH_ENTRIES];   /* ... as run codes */
    uint32_t nitems;
    uint32_t sorted;                     /* entries of the batch that order covers */
    uint64_t batch_bytes;
    char *text;               /* the batch's paths and link targets */
    size_t text_len, text_cap;
    char *link;
    uint64_t vol_id;          /* the last volume seen and its index */
    uint16_t vol_index;
    int has_vol;
    unsigned since_tick;
    bd_error e;
} worker;

/* ---- small tools -------------------------------------------------------------------- */

/* Makes room for `need` elements of `size` bytes in the buffer whose pointer is at slot
 * (capacity *cap), doubling; kept: a bd_memory_alloc buffer.  0 when out of memory (the
 * buffer is kept). */
static int reserve(void *slot, size_t *cap, size_t need, size_t size, int kept)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *buf;
    memcpy(&buf, slot, sizeof buf);  /* slot is a T**: no aliasing through void** */
    buf = kept ? bd_memory_resize(buf, c * size) : realloc(buf, c * size);
    if (!buf)
        return 0;
    if (!kept)
        bd_memory_prefer_large_pages(buf, c * size);  /* the walk's big arrays: fewer page faults */
    memcpy(slot, &buf, sizeof buf);
    *cap = c;
    return 1;
}

#define RESERVE(buf, cap, need) reserve(&(buf), &(cap), (need), sizeof *(buf), 0)
/* For the entries and the arena, the scan's largest arrays, which the scan hands over and
 * bd_scan_free releases: from bd_memory_alloc (bd_memory.h), freed with bd_memory_free. */
#define RESERVE_KEPT(buf, cap, need) reserve(&(buf), &(cap), (need), sizeof *(buf), 1)

static bd_status no_memory(bd_error *e)
{
    return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
}

static int stopping(walk *w)
{
    return ATOMIC_LOAD(&w->stop) || bd_progress_cancelled(w->p);
}

/* Sets it->key from its name and block (see sort_item). */
static void set_key(sort_item *it)
{
    const unsigned char *p = it->name;
    uint64_t key = 0;
    if (it->len >= 8) {  /* most names: a plain big-endian load (one bswap, when compiled) */
        key = (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
              (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | (uint64_t)p[7];
    } else {
        for (uint32_t i = 0; i < 8; i++)
            key = key << 8 | (i < it->len ? p[i] : i == it->len && it->block ? '/' : 0);
    }
    it->key = key;
}

static int item_cmp(const void *x, const void *y)
{
    const sort_item *a = x, *b = y;
    /* Names hold no NUL: a key's zero padding sorts an ended name first, as the end does
       below, so unequal keys order the items; most pairs stop here, without memcmp. */
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    uint32_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->name, b->name, m);
    if (c)
        return c;
    /* The next byte: the name's, else '/' for a block, else the end (-1).  Names hold no
     * '/', so two items never tie. */
    int ca = a->len > m ? a->name[m] : a->block ? '/' : -1;
    int cb = b->len > m ? b->name[m] : b->block ? '/' : -1;
    return ca - cb;
}

/* Rewrites e's path as the worker's directory, or the entry `name` in it. */
static void blame(worker *k, const char *name, size_t name_len, bd_error *e)
{
    char buf[BD_ERR_PATH_MAX];
    size_t dir_len = k->prefix_len && !name ? k->prefix_len - 1 : k->prefix_len;  /* no '/' */
    size_t len = dir_len + (name ? name_len : 0);
    size_t n = dir_len < sizeof buf ? dir_len : sizeof buf;
    memcpy(buf, k->prefix, n);
    if (name && n < sizeof buf)
        memcpy(buf + n, name, name_len < sizeof buf - n ? name_len : sizeof buf - n);
    bd_error_set_path(e, BD_PATH_SRC, buf, len < sizeof buf ? len : sizeof buf);
}

/* Where an entry's own name starts in its path (after the last '/'). */
static size_t name_start(const char *path, size_t len)
{
    size_t i = len;
    while (i > 0 && path[i - 1] != '/')
        i--;
    return i;
}

static void set_handle(walk *w, uint32_t dir, bd_dir *h)
{
    w->dirs[dir].handle = h;
    w->open_handles++;
}

/* Lets go of dir's handle (never the root's: the caller owns it), which the worker closes
 * after the lock: a close is a system call, and the other workers wait for the lock
 * meanwhile.  So each worker holds up to 3 handles more than the count for a moment.
 * Locked. */
static void drop_handle(worker *k, uint32_t dir)
{
    walk *w = k->w;
    if (dir == 0 || !w->dirs[dir].handle)
        return;
    k->closing[k->nclosing++] = w->dirs[dir].handle;
    w->dirs[dir].handle = 0;
    w->open_handles--;
}

/* Handles cached for subdirectories still to open from them.  Locked. */
static size_t cached(const walk *w)
{
    return w->open_handles - w->ahead;
}

/* Tops the worker's budget of handles to open ahead up to CARRY_CHUNK, within MAX_AHEAD
 * for the whole walk.  Locked. */
static void budget_locked(worker *k)
{
    walk *w = k->w;
    size_t held = w->ahead + w->reserved;
    size_t room = held < MAX_AHEAD ? MAX_AHEAD - held : 0;
    unsigned grab = CARRY_CHUNK - k->budget;
    if (grab > room)
        grab = (unsigned)room;
    k->budget += grab;
    w->reserved += grab;
    k->budget_spent = k->budget == 0;
}

/* Closes the handles of a batch that was not flushed and gives the budget back.  Locked. */
static void release_locked(worker *k)
{
    walk *w = k->w;
    for (uint32_t i = 0; i < k->nbatch; i++) {
        if (k->carried[i]) {
            bd_dir_close(k->carried[i]);
            k->carried[i] = 0;
            w->reserved--;
        }
    }
    w->reserved -= k->budget;
    k->budget = 0;
}

/* ---- opening directories ------------------------------------------------------------ */

/* Opens the directory `name` in parent (no-follow) and reads its metadata from the handle. */
static bd_status open_read(bd_dir *parent, const char *name, size_t len, bd_stat *st, bd_dir **out,
                           bd_error *e)
{
    bd_dir *d;
    bd_status rc = bd_dir_open_at(parent, name, len, &d, e);
    if (rc != BD_OK) {
        if (rc == BD_E_IO && e->sys_errno == ENOTDIR)  /* replaced by a file */
            rc = e->code = BD_E_CHANGED;
        return rc;
    }
    rc = bd_dir_stat(d, st, e);
    if (rc != BD_OK) {
        bd_dir_close(d);
        return rc;
    }
    *out = d;
    return BD_OK;
}

/* Opens `name` in parent and checks it is the directory the listing saw. */
static bd_status open_checked(bd_dir *parent, const char *name, size_t len, const bd_scan_entry *seen,
                              uint64_t volume_id, bd_dir **out, bd_error *e)
{
    bd_stat st;
    bd_dir *d;
    bd_status rc = open_read(parent, name, len, &st, &d, e);
    if (rc != BD_OK)
        return rc;
    if (st.file_id != seen->file_id || st.file_id_hi != seen->file_id_hi || st.volume_id != volume_id) {
        bd_dir_close(d);
        return bd_fail(e, BD_E_CHANGED, 0, "open", BD_PATH_AS_GIVEN, 0);
    }
    *out = d;
    return BD_OK;
}

/* A handle on dir whose cached one was closed (too many open): reopens the chain from the
 * nearest open ancestor, each step without following links and checked.  Locked; *temp
 * is set when the caller must close the handle after use. */
static bd_status reopen_locked(walk *w, uint32_t dir, bd_dir **out, int *temp, bd_error *e)
{
    size_t depth = 0;
    uint32_t top = dir;
    while (!w->dirs[top].handle) {
        top = w->dirs[top].parent;
        depth++;
    }
    uint32_t *chain = malloc(depth * sizeof *chain);
    if (!chain)
        return no_memory(e);
    size_t i = depth;
    for (uint32_t d = dir; d != top; d = w->dirs[d].parent)
        chain[--i] = d;
    bd_dir *h = w->dirs[top].handle;
    bd_status rc = BD_OK;
    for (i = 0; i < depth && rc == BD_OK; i++) {
        const bd_scan_entry *en = &w->entries[w->dirs[chain[i]].entry];
        const char *path = w->arena + en->path_off;
        size_t skip = name_start(path, en->path_len);
        bd_dir *next;
        rc = open_checked(h, path + skip, en->path_len - skip, en, w->volumes[en->volume], &next, e);
        if (i > 0)
            bd_dir_close(h);
        if (rc == BD_OK)
            h = next;
    }
    free(chain);
    if (rc != BD_OK)
        return rc;
    if (cached(w) < MAX_CACHED) {
        set_handle(w, dir, h);
        *temp = 0;
    } else {
        *temp = 1;
    }
    *out = h;
    return BD_OK;
}

/* ---- listing ------------------------------------------------------------------------ */

/* The volume index of volume_id (a new one is added). */
static bd_status volume_index(worker *k, uint64_t volume_id, uint16_t *out)
{
    if (k->has_vol && k->vol_id == volume_id) {
        *out = k->vol_index;
        return BD_OK;
    }
    walk *w = k->w;
    bd_status rc = BD_OK;
    bd_mutex_lock(w->lock);
    size_t i = 0;
    while (i < w->nvolumes && w->volumes[i] != volume_id)
        i++;
    if (i == w->nvolumes) {
        if (i >= MAX_VOLUMES)
            rc = bd_fail(&k->e, BD_E_NOTSUP, 0, "scan: too many volumes", BD_PATH_AS_GIVEN, 0);
        else if (!RESERVE(w->volumes, w->volumes_cap, i + 1))
            rc = no_memory(&k->e);
        else
            w->volumes[w->nvolumes++] = volume_id;
    }
    bd_mutex_unlock(w->lock);
    if (rc == BD_OK) {
        k->has_vol = 1;
        k->vol_id = volume_id;
        *out = k->vol_index = (uint16_t)i;
    }
    return rc;
}

/* Makes the task's handle the directory's, pinned while it is listed, so subdirectories
 * pushed from now on can be opened from it.  Locked. */
static void publish_locked(worker *k)
{
    if (k->published || !k->handle)
        return;
    set_handle(k->w, k->dir, k->handle);
    k->w->dirs[k->dir].pending++;
    k->published = 1;
}

/* Copies st (and its volume index) into en, its path, link and parent left as they are. */
static void set_metadata(bd_scan_entry *en, const bd_stat *st, uint16_t volume)
{
    en->size = st->size;
    en->alloc_size = st->alloc_size;
    en->mtime_ns = st->mtime_ns;
    en->ctime_ns = st->ctime_ns;
    en->file_id = st->file_id;
    en->file_id_hi = st->file_id_hi;
    en->mode = st->mode;
    en->nlink = st->nlink;
    en->uid = st->uid;
    en->gid = st->gid;
    en->attrs = st->attrs;
    en->reparse_tag = st->reparse_tag;
    en->volume = volume;
    en->kind = st->kind;
}

/* Gives the task's entry the metadata read from its handle (open_task), before any of its
 * subdirectories is pushed: a reopen through it checks the handle against it
 * (reopen_locked).  Locked. */
static void settle_locked(worker *k)
{
    if (!k->settle)
        return;
    walk *w = k->w;
    set_metadata(&w->entries[w->dirs[k->dir].entry], &k->own, k->own_volume);
    w->dirs[k->dir].unread = 0;
    k->settle = 0;
}

/* a before b: on their keys, inline, and only on a tie through item_cmp. */
static int item_before(const sort_item *a, const sort_item *b)
{
    return a->key != b->key ? a->key < b->key : item_cmp(a, b) < 0;
}

#define SMALL_SORT 24u

static void insertion_sort(sort_item *items, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        sort_item x = items[i];
        size_t j = i;
        while (j > 0 && item_before(&x, &items[j - 1])) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = x;
    }
}

/* Sorts n items by name: runs of SMALL_SORT by insertion, then merged through scratch (room
 * for n), every comparison inline on the keys.  Most directories' batches are small, and
 * qsort's call per comparison and its buffer cost more than the sorting: a fifth of a
 * scan's user-space instructions at 100k entries before the insertion sort, and still 1 in
 * 8 of its user time on /usr/lib (256-entry batches) before the merge.  Without scratch (no
 * memory for it), qsort. */
static void sort_items(sort_item *items, size_t n, sort_item *scratch)
{
    if (n > SMALL_SORT && !scratch) {
        qsort(items, n, sizeof *items, item_cmp);
        return;
    }
    for (size_t i = 0; i < n; i += SMALL_SORT)
        insertion_sort(items + i, n - i < SMALL_SORT ? n - i : SMALL_SORT);
    sort_item *from = items, *to = scratch;
    for (size_t width = SMALL_SORT; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, out = lo;
            while (a < mid && b < hi)
                to[out++] = item_before(&from[b], &from[a]) ? from[b++] : from[a++];
            while (a < mid)
                to[out++] = from[a++];
            while (b < hi)
                to[out++] = from[b++];
        }
        sort_item *t = from;
        from = to;
        to = t;
    }
    if (from != items)
        memcpy(items, from, n * sizeof *items);
}

/* Sorts the batch by name, a subdirectory twice ("name", and "name/" for its contents),
 * on the worker's thread and outside the lock: the ordering phase then sorts only the
 * directories listed in several batches. */
static void sort_batch(worker *k)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < k->nbatch; i++) {
        const bd_scan_entry *en = &k->batch[i];
        sort_item *it = &k->items[n++];
        /* Every entry of the batch is in the task's directory: its name follows the prefix. */
        it->name = (const unsigned char *)k->text + en->path_off + k->prefix_len;
        it->len = (uint32_t)(en->path_len - k->prefix_len);
        it->ref = i;
        it->block = 0;
        set_key(it);
        if (en->kind == BD_KIND_DIR) {
            k->items[n] = *it;
            k->items[n].block = 1;
            set_key(&k->items[n++]);
        }
    }
    sort_items(k->items, n, k->scratch);
    for (uint32_t j = 0; j < n; j++)
        k->order[j] = k->items[j].ref * 2 + k->items[j].block;
    k->nitems = n;
    k->sorted = k->nbatch;
}

/* Moves the batch into the shared arrays, pushing a task per subdirectory.  Locked. */
static bd_status flush_locked(worker *k)
{
    walk *w = k->w;
    uint32_t nb = k->nbatch;
    settle_locked(k);
    if (nb == 0)
        return BD_OK;
    if (k->sorted != nb)
        sort_batch(k);  /* callers sort before taking the lock; this keeps it right anyway */
    uint32_t subdirs = 0;
    for (uint32_t i = 0; i < nb; i++)
        subdirs += k->batch[i].kind == BD_KIND_DIR;
    if (w->n + nb >= NO_INDEX
        || !RESERVE_KEPT(w->entries, w->entries_cap, w->n + nb)
        || !RESERVE_KEPT(w->arena, w->arena_cap, w->arena_len + k->text_len)
        || !RESERVE(w->runs, w->runs_cap, w->nruns + 1)
        || !RESERVE(w->order, w->order_cap, w->norder + k->nitems)
        || !RESERVE(w->dirs, w->dirs_cap, w->ndirs + subdirs)
        || !RESERVE(w->tasks, w->tasks_cap, w->ntasks + subdirs))
        return no_memory(&k->e);
    publish_locked(k);
    uint32_t base = (uint32_t)w->n;
    memcpy(w->arena + w->arena_len, k->text, k->text_len);
    for (uint32_t i = 0; i < nb; i++) {
        bd_scan_entry *en = &w->entries[base + i];
        *en = k->batch[i];
        en->path_off += w->arena_len;
        if (en->kind == BD_KIND_DIR) {
            uint32_t id = (uint32_t)w->ndirs++;
            scan_dir *sd = &w->dirs[id];
            memset(sd, 0, sizeof *sd);
            sd->entry = base + i;
            sd->parent = k->dir;
            sd->first_run = sd->last_run = NO_INDEX;
            sd->unread = k->unread[i];
            en->parent = id;
            w->tasks[w->ntasks++] = id;
            if (k->carried[i]) {  /* its task needs no handle of its parent */
                set_handle(w, id, k->carried[i]);
                k->carried[i] = 0;
                w->reserved--;
                w->ahead++;
            } else {
                w->dirs[k->dir].pending++;
            }
        }
    }
    uint32_t run = (uint32_t)w->nruns++;
    w->runs[run].start = base;
    w->runs[run].count = nb;
    w->runs[run].next = NO_INDEX;
    w->runs[run].order = (uint32_t)w->norder;
    w->runs[run].items = k->nitems;
    memcpy(w->order + w->norder, k->order, k->nitems * sizeof *k->order);
    w->norder += k->nitems;
    scan_dir *parent = &w->dirs[k->dir];
    if (parent->last_run == NO_INDEX)
        parent->first_run = run;
    else
        w->runs[parent->last_run].next = run;
    parent->last_run = run;
    w->n += nb;
    w->arena_len += k->text_len;
    /* Wake only workers that wait (most flushes find the others busy listing), and one
     * when one waits or the batch brought one task: no broadcast per batch. */
    if (subdirs && w->idle > 1 && subdirs > 1)
        bd_cond_broadcast(w->wake);
    else if (subdirs && w->idle)
        bd_cond_signal(w->wake);
    bd_progress_add(w->p, nb, k->batch_bytes);
    budget_locked(k);
    k->nbatch = 0;
    k->sorted = 0;
    k->text_len = 0;
    k->batch_bytes = 0;
    return BD_OK;
}

static bd_status flush(worker *k)
{
    sort_batch(k);
    bd_mutex_lock(k->w->lock);
    bd_status rc = flush_locked(k);
    bd_mutex_unlock(k->w->lock);
    return rc;
}

/* A progress checkpoint: ticks on the caller's thread, else only looks for a stop. */
static bd_status checkpoint(worker *k)
{
    if (k->is_main) {
        bd_status rc = bd_progress_tick(k->w->p, 0, &k->e);
        if (rc != BD_OK)
            return rc;
    }
    if (stopping(k->w))
        return bd_fail(&k->e, BD_E_CANCELLED, 0, "cancel", BD_PATH_AS_GIVEN, 0);
    return BD_OK;
}

/* A subdirectory met in the listing (listed: its metadata when the listing read it): opened
 * now while the budget allows, its metadata read from the handle (*sub).  Else its task
 * opens it later, and *st is what the listing read, or, when it read nothing (a Linux
 * listing names a directory by its type alone), *unread and st holds only the kind: the
 * task reads the metadata from the handle it opens (open_task).
 *
 * Why not read it by name now: it would be read twice, by name now and from the handle when
 * opened, the second only to check the handle is the directory the first described (a
 * tenth of a scan's stats on /usr/lib, 6.4k of 85k).  Read once, from the handle, it needs no
 * check: the entry then describes the very directory that was opened and listed, opened
 * no-follow from its parent's handle as every directory is.  Whatever happened to the name
 * meanwhile, a link swapped in is refused by that open (BD_E_UNSAFE_PATH), a file by its
 * O_DIRECTORY (BD_E_CHANGED), a directory removed is left out (finish_locked), and another
 * directory renamed into its place is the one described and listed, as it would have been
 * had it been there at the listing.  Nothing outside the tree is reached either way.
 *
 * If the open now fails otherwise (a link swapped in, no permission), what the name is now
 * decides: read by name, and a directory's task meets its error when it opens it.  *gone
 * when it vanished since the listing. */
static bd_status read_subdir(worker *k, const char *name, size_t name_len, const bd_stat *listed,
                             bd_stat *st, bd_dir **sub, int *gone, int *unread)
{
    *sub = 0;
    *gone = 0;
    *unread = 0;
    if (k->budget == 0 && !k->budget_spent) {
        bd_mutex_lock(k->w->lock);
        budget_locked(k);
        bd_mutex_unlock(k->w->lock);
    }
    bd_error le;
    bd_error_clear(&le);
    if (k->budget > 0) {
        bd_dir *d;
        if (bd_dir_open_at(k->handle, name, name_len, &d, &le) == BD_OK) {
            if (bd_dir_stat(d, st, &le) == BD_OK) {
                k->budget--;
                *sub = d;
                return BD_OK;
            }
            bd_dir_close(d);
        }
        if (le.sys_errno == ENOENT) {
            *gone = 1;
            return BD_OK;
        }
        bd_error_clear(&le);  /* what the listing read, else the name now, decides */
    } else if (listed) {
        *st = *listed;
        return BD_OK;
    } else {
        memset(st, 0, sizeof *st);
        st->kind = BD_KIND_DIR;
        *unread = 1;
        return BD_OK;
    }
    if (listed) {
        *st = *listed;
        return BD_OK;
    }
    if (bd_stat_at(k->handle, name, name_len, st, &le) == BD_OK)
        return BD_OK;
    if (le.sys_errno == ENOENT) {
        *gone = 1;
        return BD_OK;
    }
    k->e = le;
    blame(k, name, name_len, &k->e);
    return k->e.code;
}

/* bd_dir_list_lazy callback: appends one entry to the batch.  Nonzero stops the listing,
 * with the reason in k->e. */
static int on_entry(void *ctx, const char *name, size_t name_len, const bd_stat *listed)
{
    worker *k = ctx;
    if (k->nbatch == BATCH_ENTRIES && flush(k) != BD_OK)
        return 1;
    const bd_stat *st = listed;
    bd_stat own;
    bd_dir *sub = 0;
    int unread = 0;
    if (!listed || listed->kind == BD_KIND_DIR) {
        int gone;
        if (read_subdir(k, name, name_len, listed, &own, &sub, &gone, &unread) != BD_OK)
            return 1;
        if (gone)
            return 0;
        st = &own;
    }
    size_t link_len = 0;
    if (st->kind == BD_KIND_SYMLINK || st->kind == BD_KIND_REPARSE) {
        bd_error le;
        bd_error_clear(&le);
        if (bd_link_read_at(k->handle, name, name_len, k->link, LINK_BUF, &link_len, &le) != BD_OK) {
            if (le.sys_errno == ENOENT)
                return 0;  /* vanished since the listing */
            if (st->kind == BD_KIND_SYMLINK) {
                if (le.sys_errno == EINVAL)  /* no longer a link */
                    le.code = BD_E_CHANGED;
                k->e = le;
                blame(k, name, name_len, &k->e);
                return 1;
            }
            link_len = 0;  /* a reparse point that is not a link: no target */
        }
    }
    size_t path_len = k->prefix_len + name_len;
    bd_scan_entry *en = &k->batch[k->nbatch];
    if (!RESERVE(k->text, k->text_cap, k->text_len + path_len + link_len)) {
        no_memory(&k->e);
        goto fail;
    }
    uint16_t volume = 0;  /* an unread directory's comes with its metadata (settle_locked) */
    if (!unread && volume_index(k, st->volume_id, &volume) != BD_OK)
        goto fail;
    en->path_off = k->text_len;
    en->path_len = (uint32_t)path_len;
    en->link_len = (uint32_t)link_len;
    en->parent = NO_INDEX;
    set_metadata(en, st, volume);
    char *out = k->text + k->text_len;
    if (k->prefix_len)  /* the root's entries have no prefix (and prefix may be NULL) */
        memcpy(out, k->prefix, k->prefix_len);
    memcpy(out + k->prefix_len, name, name_len);
    memcpy(out + path_len, k->link, link_len);
    k->text_len += path_len + link_len;
    if (st->kind == BD_KIND_FILE)
        k->batch_bytes += st->size;
    k->unread[k->nbatch] = (unsigned char)unread;
    k->carried[k->nbatch++] = sub;
    if (++k->since_tick >= TICK_EVERY) {
        k->since_tick = 0;
        if (checkpoint(k) != BD_OK)
            return 1;
    }
    return 0;
fail:
    if (sub) {
        bd_dir_close(sub);
        k->budget++;
    }
    return 1;
}

/* Takes dir from the stack as the worker's task: its path, what its parent saw, and the
 * handle to open it from (none when it vanished), pinned (users) so it stays open.
 * Locked. */
static bd_status take_locked(worker *k, uint32_t dir)
{
    walk *w = k->w;
    k->dir = dir;
    k->prefix_len = 0;
    k->from = k->handle = 0;
    k->from_temp = k->holds_parent = k->published = 0;
    k->seen_unread = k->settle = 0;
    k->nbatch = 0;
    k->text_len = 0;
    k->batch_bytes = 0;
    budget_locked(k);
    if (dir == 0) {
        k->handle = w->dirs[0].handle;
        k->published = 1;
        w->dirs[0].pending++;
        return BD_OK;
    }
    /* A directory opened when its parent was listed holds nothing of its parent. */
    k->holds_parent = w->dirs[dir].handle == 0;
    if (!k->holds_parent) {
        w->ahead--;  /* cached from now on, as a listed directory's handle is */
        k->handle = w->dirs[dir].handle;
        k->published = 1;
        w->dirs[dir].pending++;
    }
    k->seen = w->entries[w->dirs[dir].entry];
    k->seen_unread = w->dirs[dir].unread;
    k->seen_volume = k->seen_unread ? 0 : w->volumes[k->seen.volume];
    if (!RESERVE(k->prefix, k->prefix_cap, (size_t)k->seen.path_len + 1))
        return no_memory(&k->e);
    memcpy(k->prefix, w->arena + k->seen.path_off, k->seen.path_len);
    k->prefix[k->seen.path_len] = '/';
    k->prefix_len = (size_t)k->seen.path_len + 1;
    if (!k->holds_parent)
        return BD_OK;
    uint32_t parent = w->dirs[dir].parent;
    k->from = w->dirs[parent].handle;
    if (!k->from) {
        bd_status rc = reopen_locked(w, parent, &k->from, &k->from_temp, &k->e);
        if (rc != BD_OK && k->e.sys_errno == ENOENT) {
            bd_error_clear(&k->e);  /* an ancestor vanished, and this directory with it */
            return BD_OK;
        }
        if (rc != BD_OK && rc != BD_E_NOMEM)
            blame(k, 0, 0, &k->e);  /* the directory it was reopened for */
        if (rc != BD_OK)
            return rc;
    }
    if (!k->from_temp)
        w->dirs[parent].users++;
    return BD_OK;
}

/* Opens the task's directory (not the root) from its parent's handle, which stays open
 * meanwhile: not for lack of pending subdirectories (this task counts), nor to save
 * handles (users); checked against what the listing read, or, when it read nothing, its
 * metadata read from the handle (read_subdir).  Leaves k->handle NULL when the directory
 * vanished. */
static bd_status open_task(worker *k)
{
    bd_error *e = &k->e;
    size_t skip = name_start(k->prefix, k->prefix_len - 1);
    const char *name = k->prefix + skip;
    size_t len = k->prefix_len - 1 - skip;
    bd_status rc;
    if (k->seen_unread) {
        rc = open_read(k->from, name, len, &k->own, &k->handle, e);
        if (rc == BD_OK)
            rc = volume_index(k, k->own.volume_id, &k->own_volume);
        k->settle = rc == BD_OK;
    } else {
        rc = open_checked(k->from, name, len, &k->seen, k->seen_volume, &k->handle, e);
    }
    if (rc != BD_OK && e->sys_errno == ENOENT) {
        bd_error_clear(e);
        return BD_OK;
    }
    if (rc != BD_OK && rc != BD_E_NOMEM)
        blame(k, 0, 0, e);
    return rc;
}

/* Lists the task's directory into batches. */
static bd_status list_task(worker *k)
{
    bd_error *e = &k->e;
    /* When on_entry stops the listing, e holds its reason (the first failure wins). */
    bd_status rc = bd_dir_list_lazy(k->handle, on_entry, k, e) == BD_OK ? BD_OK : e->code;
    if (rc != BD_OK && rc != BD_E_CANCELLED && rc != BD_E_NOMEM && e->path_base == BD_PATH_AS_GIVEN)
        blame(k, e->path[0] ? e->path : 0, strlen(e->path), e);  /* e->path: a name or "" */
    return rc;
}

/* Ends the task: the last batch, then the parent's and its own handle released (a handle
 * still needed by pending subdirectories stays, unless too many are open).  Locked. */
static bd_status finish_locked(worker *k, bd_status rc)
{
    walk *w = k->w;
    if (rc == BD_OK && !k->handle) {  /* vanished before its opening: left out */
        w->entries[w->dirs[k->dir].entry].kind = KIND_GONE;
        w->gone++;
    }
    if (k->holds_parent) {
        uint32_t parent = w->dirs[k->dir].parent;
        if (k->from_temp)
            k->closing[k->nclosing++] = k->from;
        else if (k->from)
            w->dirs[parent].users--;
        if (--w->dirs[parent].pending == 0)
            drop_handle(k, parent);
    }
    if (rc == BD_OK)
        rc = flush_locked(k);
    release_locked(k);
    if (k->published) {
        scan_dir *d = &w->dirs[k->dir];
        if (--d->pending == 0 || (cached(w) > MAX_CACHED && d->users == 0))
            drop_handle(k, k->dir);  /* pending subdirectories will reopen it */
    } else if (k->handle) {
        k->closing[k->nclosing++] = k->handle;  /* never shared: nothing was pushed from it */
    }
    w->busy--;
    return rc;
}

/* ---- the walk ----------------------------------------------------------------------- */

/* Closes the handles finish_locked let go (drop_handle). */
static void close_let_go(worker *k)
{
    for (unsigned i = 0; i < k->nclosing; i++)
        bd_dir_close(k->closing[i]);
    k->nclosing = 0;
}

/* Takes directories from the stack until none is left and nobody can push more; one lock
 * hold per directory (its finish and the next take), one per full batch, and no system
 * call in them but a rare reopen: the handles let go are closed after (close_let_go). */
static void work(worker *k)
{
    walk *w = k->w;
    bd_mutex_lock(w->lock);
    for (;;) {
        while (!ATOMIC_LOAD(&w->stop) && w->ntasks == 0 && w->busy > 0) {
            if (k->nclosing) {  /* not while waiting */
                bd_mutex_unlock(w->lock);
                close_let_go(k);
                bd_mutex_lock(w->lock);
                continue;
            }
            w->idle++;
            if (!k->is_main) {
                bd_cond_wait(w->wake, w->lock);
                w->idle--;
                continue;
            }
            /* The caller's thread keeps the progress moving while the other lists. */
            bd_cond_timedwait(w->wake, w->lock, IDLE_TICK_NS);
            w->idle--;
            bd_mutex_unlock(w->lock);
            bd_status rc = checkpoint(k);
            bd_mutex_lock(w->lock);
            if (rc != BD_OK) {
                if (w->err.code == BD_OK)
                    w->err = k->e;
                ATOMIC_STORE(&w->stop, 1);
                bd_cond_broadcast(w->wake);
            }
        }
        if (ATOMIC_LOAD(&w->stop) || w->ntasks == 0)
            break;
        w->busy++;
        bd_status rc = take_locked(k, w->tasks[--w->ntasks]);
        bd_mutex_unlock(w->lock);
        close_let_go(k);  /* the last task's, now that the next one is taken */

        if (rc == BD_OK && k->from)
            rc = open_task(k);
        if (rc == BD_OK && k->handle)
            rc = list_task(k);
        if (rc == BD_OK)
            rc = checkpoint(k);
        if (rc == BD_OK)
            sort_batch(k);  /* the last batch, flushed by finish_locked */

        bd_mutex_lock(w->lock);
        rc = finish_locked(k, rc);
        if (rc != BD_OK) {
            if (w->err.code == BD_OK)
                w->err = k->e;
            ATOMIC_STORE(&w->stop, 1);
        }
        if (rc != BD_OK || (w->busy == 0 && w->ntasks == 0))
            bd_cond_broadcast(w->wake);
    }
    bd_mutex_unlock(w->lock);
    close_let_go(k);
}

static void work_thread(void *arg)
{
    work(arg);
}

static worker *worker_new(walk *w, int is_main)
{
    worker *k = calloc(1, sizeof *k);
    if (!k)
        return 0;
    k->link = malloc(LINK_BUF);
    if (!k->link) {
        free(k);
        return 0;
    }
    k->w = w;
    k->is_main = is_main;
    bd_error_clear(&k->e);
    return k;
}

static void worker_free(worker *k)
{
    if (k) {
        free(k->prefix);
        free(k->text);
        free(k->link);
        free(k);
    }
}

/* Runs the walk on `threads` threads, the caller's included. */
static bd_status run_walk(walk *w, unsigned threads, bd_error *e)
{
    worker *ks[BD_SCAN_MAX_THREADS] = {0};
    bd_thread *ts[BD_SCAN_MAX_THREADS] = {0};
    unsigned started = 0;
    for (unsigned i = 0; i < threads; i++) {
        ks[i] = worker_new(w, i == 0);
        if (!ks[i]) {
            if (i == 0)
                return no_memory(e);
            break;
        }
        bd_error ignored;  /* fewer threads still work */
        bd_error_clear(&ignored);
        if (i > 0 && bd_thread_start(&ts[i], work_thread, ks[i], &ignored) != BD_OK)
            break;
        started = i + 1;
    }
    work(ks[0]);
    for (unsigned i = 1; i < started; i++)
        bd_thread_join(ts[i]);
    for (unsigned i = 0; i < threads; i++)
        worker_free(ks[i]);
    if (w->err.code != BD_OK) {
        if (e && e->code == BD_OK)
            *e = w->err;
        return w->err.code;
    }
    return bd_progress_tick(w->p, 1, e);  /* the final counts, always shown */
}

/* ---- ordering ----------------------------------------------------------------------- */

typedef struct frame {
    uint32_t dir;
    size_t begin, end, pos;
} frame;

typedef struct order_state {
    walk *w;
    sort_item *items;
    size_t nitems, items_cap;
    sort_item *scratch;
    size_t scratch_cap;
    frame *frames;
    size_t nframes, frames_cap;
} order_state;

/* Pushes a frame holding dir's children, sorted: in the order its worker sorted them when
 * it was listed in one run, else gathered from its runs and sorted here. */
static bd_status push_dir(order_state *o, uint32_t dir, bd_error *e)
{
    walk *w = o->w;
    size_t begin = o->nitems;
    const scan_dir *d = &w->dirs[dir];
    if (d->first_run != NO_INDEX && d->first_run == d->last_run) {
        const scan_run *run = &w->runs[d->first_run];
        if (!RESERVE(o->items, o->items_cap, o->nitems + run->items))
            return no_memory(e);
        for (uint32_t j = 0; j < run->items; j++) {
            uint32_t code = w->order[run->order + j];
            uint32_t i = run->start + code / 2;
            if (w->gone && w->entries[i].kind == KIND_GONE)
                continue;
            sort_item *it = &o->items[o->nitems++];
            it->name = 0;  /* sorted already: only ref and block are read from here on */
            it->len = 0;
            it->block = code % 2;
            it->ref = it->block ? w->entries[i].parent : i;  /* a block: its own dir index */
        }
    } else {
        for (uint32_t r = d->first_run; r != NO_INDEX; r = w->runs[r].next) {
            const scan_run *run = &w->runs[r];
            if (!RESERVE(o->items, o->items_cap, o->nitems + 2 * (size_t)run->count))
                return no_memory(e);
            for (uint32_t i = run->start; i < run->start + run->count; i++) {
                const bd_scan_entry *en = &w->entries[i];
                if (en->kind == KIND_GONE)
                    continue;
                const char *path = w->arena + en->path_off;
                size_t skip = name_start(path, en->path_len);
                sort_item *it = &o->items[o->nitems++];
                it->name = (const unsigned char *)path + skip;
                it->len = (uint32_t)(en->path_len - skip);
                it->ref = i;
                it->block = 0;
                set_key(it);
                if (en->kind == BD_KIND_DIR) {
                    sort_item *blk = &o->items[o->nitems++];
                    *blk = *it;
                    blk->ref = en->parent;  /* its own dir index, during the walk */
                    blk->block = 1;
                    set_key(blk);
                }
            }
        }
        size_t n = o->nitems - begin;
        sort_items(o->items + begin, n, RESERVE(o->scratch, o->scratch_cap, n) ? o->scratch : 0);
    }
    if (!RESERVE(o->frames, o->frames_cap, o->nframes + 1))
        return no_memory(e);
    frame *f = &o->frames[o->nframes++];
    f->dir = dir;
    f->begin = f->pos = begin;
    f->end = o->nitems;
    return BD_OK;
}

/* Applies perm (new position -> old index) to the entries in place, following cycles. */
static void permute(bd_scan_entry *entries, uint32_t *perm, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (perm[i] == i)
            continue;
        bd_scan_entry held = entries[i];
        size_t j = i;
        for (;;) {
            size_t from = perm[j];
            perm[j] = (uint32_t)j;
            if (from == i) {
                entries[j] = held;
                break;
            }
            entries[j] = entries[from];
            j = from;
        }
    }
}

/* Sorts the walked entries into s: permutes them, or with gather leaves them in walk order
 * and hands s the sorted order (scan_order.h).  Entries of KIND_GONE are left out: placed
 * after the others, beyond the count. */
static bd_status order(walk *w, bd_scan *s, int gather, bd_error *e)
{
    size_t n = w->n, kept = n - w->gone;
    uint32_t *perm = malloc((n ? n : 1) * sizeof *perm);
    order_state o = {w, 0, 0, 0, 0, 0, 0, 0, 0};
    bd_status rc = perm ? push_dir(&o, 0, e) : no_memory(e);
    size_t pos = 0;
    while (rc == BD_OK && o.nframes) {
        frame *f = &o.frames[o.nframes - 1];
        if (f->pos == f->end) {
            o.nitems = f->begin;
            o.nframes--;
            continue;
        }
        sort_item it = o.items[f->pos++];
        if (it.block) {
            rc = push_dir(&o, it.ref, e);
            continue;
        }
        /* A directory's entry comes before its block ("name" < "name/"), so its sorted
         * position is known when its children are placed. */
        bd_scan_entry *en = &w->entries[it.ref];
        if (en->kind == BD_KIND_DIR)
            w->dirs[en->parent].sorted_pos = (uint32_t)pos;
        en->parent = f->dir == 0 ? BD_SCAN_NO_PARENT : w->dirs[f->dir].sorted_pos;
        perm[pos++] = it.ref;
    }
    free(o.items);
    free(o.scratch);
    free(o.frames);
    if (rc != BD_OK) {
        free(perm);
        return rc;
    }
    for (size_t i = 0; pos < n; i++)
        if (w->entries[i].kind == KIND_GONE)
            perm[pos++] = (uint32_t)i;
    if (gather) {
        s->order = perm;
    } else {
        permute(w->entries, perm, n);
        free(perm);
    }
    /* Hand the buffers over, giving back the unused tails of the small ones (a large one
       keeps its size: freed, it is kept for the next scan, bd_memory.h). */
    s->entries = w->entries;
    s->count = kept;
    w->entries = 0;
    size_t held = gather ? n : kept;  /* gathered, the entries left out stay among them */
    bd_scan_entry *entries = bd_memory_resize(s->entries, (held ? held : 1) * sizeof *s->entries);
    if (entries)
        s->entries = entries;
    s->arena = w->arena;
    s->arena_len = w->arena_len;
    w->arena = 0;
    char *arena = bd_memory_resize(s->arena, s->arena_len ? s->arena_len : 1);
    if (arena)
        s->arena = arena;
    s->volumes = w->volumes;
    s->nvolumes = w->nvolumes;
    w->volumes = 0;
    return BD_OK;
}

/* ---- public ------------------------------------------------------------------------- */

static void walk_free(walk *w)
{
    for (size_t d = 1; d < w->ndirs; d++)
        if (w->dirs[d].handle)
            bd_dir_close(w->dirs[d].handle);
    bd_memory_free(w->entries);
    bd_memory_free(w->arena);
    free(w->dirs);
    free(w->runs);
    free(w->order);
    free(w->tasks);
    free(w->volumes);
    bd_cond_free(w->wake);
    bd_mutex_free(w->lock);
}

/* Reserves room for the entries a hint expects, and for their paths and sorted order: best
 * effort (without memory, the walk grows its buffers as it would without a hint). */
static void reserve_expected(walk *w, size_t entries, size_t bytes)
{
    if (entries > BD_SCAN_HINT_MAX_ENTRIES)
        entries = BD_SCAN_HINT_MAX_ENTRIES;
    if (bytes > BD_SCAN_HINT_MAX_BYTES)
        bytes = BD_SCAN_HINT_MAX_BYTES;
    if (!entries)
        return;
    size_t slack = entries / 32 + 64;  /* a few more than last time, without a doubling */
    (void)RESERVE_KEPT(w->entries, w->entries_cap, entries + slack);
    (void)RESERVE(w->order, w->order_cap, entries + entries / 4 + slack);  /* a directory twice */
    if (bytes)
        (void)RESERVE_KEPT(w->arena, w->arena_cap, bytes + bytes / 32 + 4096);
}

bd_status bd_scan_dir(bd_dir *root, unsigned threads, bd_progress *p, bd_scan **out, bd_error *e)
{
    return bd_scan_dir_sized(root, threads, 0, 0, p, out, e);
}

static bd_status scan_below(bd_dir *root, unsigned threads, size_t expect_entries, size_t expect_bytes,
                          int gather, bd_progress *p, bd_scan **out, bd_error *e)
{
    if (!root || !out)
        return bd_fail(e, BD_E_INVAL, EINVAL, "bd_scan_dir", BD_PATH_AS_GIVEN, 0);
    if (threads == 0)
        threads = bd_cpu_count();
    if (threads > BD_SCAN_MAX_THREADS)
        threads = BD_SCAN_MAX_THREADS;

    walk w;
    memset(&w, 0, sizeof w);
    w.p = p;
    bd_error_clear(&w.err);
    bd_scan *s = calloc(1, sizeof *s);
    bd_status rc = s ? BD_OK : no_memory(e);
    if (rc == BD_OK)
        rc = bd_mutex_new(&w.lock, e);
    if (rc == BD_OK)
        rc = bd_cond_new(&w.wake, e);
    if (rc == BD_OK && (!RESERVE(w.dirs, w.dirs_cap, 1) || !RESERVE(w.tasks, w.tasks_cap, 1)))
        rc = no_memory(e);
    if (rc == BD_OK) {
        memset(&w.dirs[0], 0, sizeof w.dirs[0]);
        w.dirs[0].handle = root;
        w.dirs[0].entry = w.dirs[0].parent = NO_INDEX;
        w.dirs[0].first_run = w.dirs[0].last_run = NO_INDEX;
        w.ndirs = 1;
        w.tasks[w.ntasks++] = 0;
        reserve_expected(&w, expect_entries, expect_bytes);
        rc = run_walk(&w, threads, e);
    }
    if (rc == BD_OK)
        rc = order(&w, s, gather, e);
    walk_free(&w);
    if (rc != BD_OK) {
        bd_scan_free(s);
        return rc;
    }
    *out = s;
    return BD_OK;
}

bd_status bd_scan_dir_sized(bd_dir *root, unsigned threads, size_t expect_entries, size_t expect_bytes,
                            bd_progress *p, bd_scan **out, bd_error *e)
{
    return scan_below(root, threads, expect_entries, expect_bytes, 0, p, out, e);
}

/* The scan below the directory at root_path (opened, scanned, closed); gather: see order(). */
static bd_status scan_path(const char *root_path, unsigned threads, size_t expect_entries, size_t expect_bytes,
                           int gather, bd_progress *p, bd_scan **out, bd_error *e)
{
    bd_dir *root;
    bd_status rc = bd_dir_open(root_path, &root, e);
    if (rc != BD_OK)
        return rc;
    rc = scan_below(root, threads, expect_entries, expect_bytes, gather, p, out, e);
    bd_dir_close(root);
    return rc;
}

bd_status bd_scan_tree_gathered(const char *root_path, unsigned threads, size_t expect_entries,
                                size_t expect_bytes, bd_progress *p, bd_scan **out, bd_error *e)
{
    return scan_path(root_path, threads, expect_entries, expect_bytes, 1, p, out, e);
}

const uint32_t *bd_scan_sorted_order(const bd_scan *s)
{
    return s->order;
}

bd_status bd_scan_tree(const char *root_path, unsigned threads, bd_progress *p, bd_scan **out,
                       bd_error *e)
{
    return bd_scan_tree_sized(root_path, threads, 0, 0, p, out, e);
}

bd_status bd_scan_tree_sized(const char *root_path, unsigned threads, size_t expect_entries,
                             size_t expect_bytes, bd_progress *p, bd_scan **out, bd_error *e)
{
    return scan_path(root_path, threads, expect_entries, expect_bytes, 0, p, out, e);
}

void bd_scan_free(bd_scan *s)
{
    if (s) {
        bd_memory_free(s->entries);
        free(s->order);
        bd_memory_free(s->arena);
        free(s->volumes);
        free(s);
    }
}

size_t bd_scan_count(const bd_scan *s)
{
    return s->count;
}

const bd_scan_entry *bd_scan_entries(const bd_scan *s)
{
    return s->entries;
}

const char *bd_scan_arena(const bd_scan *s)
{
    return s->arena;
}

uint64_t bd_scan_volume_id(const bd_scan *s, uint16_t volume)
{
    return volume < s->nvolumes ? s->volumes[volume] : 0;
}

size_t bd_scan_nbytes(const bd_scan *s)
{
    return sizeof *s + s->count * sizeof *s->entries + s->arena_len + s->nvolumes * sizeof *s->volumes;
}
