/* dir_chain.h: opening many relative paths under one root, never through a link, keeping
 * the directories of the last path open (internal to native/src; one chain per thread). */
#ifndef BODEGA_DIR_CHAIN_H
#define BODEGA_DIR_CHAIN_H

#include <stddef.h>
#include "bodega/bd_platform.h"

/* The directories of the last path entered: dirs[i] is the directory named by
 * prefix[0 .. ends[i]).  Zero-initialise it; bd_chain_free releases it. */
typedef struct dir_chain {
    bd_dir **dirs;
    size_t *ends;
    size_t depth, cap;
    char *prefix;
    size_t prefix_cap;
} dir_chain;

/* The open directory holding path (relative to root, '/'-separated real names: no empty,
 * "." or ".." component, else BD_E_INVAL) and the file name within it.  Directories the
 * previous path shared are reused; the others are opened one component at a time without
 * following links.  *dir belongs to the chain (or is root): valid until the next call. */
bd_status bd_chain_open_parent(dir_chain *c, bd_dir *root, const char *path, size_t path_len, bd_dir **dir,
                               const char **name, size_t *name_len, bd_error *e);

/* The open directory path itself (relative to root, the same syntax), entered like a
 * parent: shared leading directories reused, the rest opened without following links (a
 * link anywhere on the way, the last component included, is BD_E_UNSAFE_PATH).  *dir
 * belongs to the chain: valid until the next call. */
bd_status bd_chain_open_dir(dir_chain *c, bd_dir *root, const char *path, size_t path_len, bd_dir **dir,
                            bd_error *e);

/* One step of bd_chain_each: the i-th path's work with the shared chain; *bytes (0 before)
 * what it wrote, for progress.  On failure it names its path in e. */
typedef bd_status (*bd_chain_step)(void *ctx, dir_chain *chain, size_t i, uint64_t *bytes, bd_error *e);

/* Runs step for i = 0 .. n-1 (n-1 .. 0 when reverse) with one chain, stopping at the first
 * failure.  After each step one file and its bytes are added to p and p ticks: a cancel
 * stops before the next (BD_E_CANCELLED).  *done (always set) counts the steps done whole. */
bd_status bd_chain_each(size_t n, int reverse, bd_chain_step step, void *ctx, bd_progress *p, size_t *done,
                        bd_error *e);

/* Closes the chain's directories and frees it. */
void bd_chain_free(dir_chain *c);

#endif
