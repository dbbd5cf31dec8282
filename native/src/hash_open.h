/* hash_open.h: hashing a file already open (internal to native/src; shared by
 * bd_hash_file and bd_hash_files). */
#ifndef BODEGA_HASH_OPEN_H
#define BODEGA_HASH_OPEN_H

#include "bodega/bd_hash.h"

/* Hashes the open file f whose metadata at open was `before`, reading before->size bytes,
 * then checks it did not change (BD_E_CHANGED).  With threads > 1 (0: one per CPU), a file
 * of 4 MiB or more is split into subtrees hashed in parallel; only the thread that owns the
 * call (the one allowed to tick p) may ask for that.  may_tick says whether this thread may
 * call bd_progress_tick; otherwise it only checks for cancellation.  buf holds
 * BD_READ_BLOCK bytes.  On failure e has no path: the caller adds the name. */
bd_status bd_hash_open_file(bd_file *f, const bd_stat *before, unsigned threads, uint8_t *buf,
                            uint8_t out[BD_HASH_LEN], bd_progress *p, int may_tick, bd_error *e);

#endif
