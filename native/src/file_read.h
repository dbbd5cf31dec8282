/* file_read.h: reading a file once, checked for change (internal to native/src). */
#ifndef BODEGA_FILE_READ_H
#define BODEGA_FILE_READ_H

#include <stddef.h>
#include <stdint.h>
#include "bodega/bd_platform.h"

/* Large sequential reads: fits the L2 cache, so data is hashed while still there, and is
 * long enough for the read syscall to cost nothing. */
#define BD_READ_BLOCK ((size_t)256 * 1024)

/* Fills buf with exactly len bytes at off.  BD_E_CHANGED when the file ends first (it
 * shrank since its size was taken). */
bd_status bd_read_exact(bd_file *f, void *buf, size_t len, uint64_t off, bd_error *e);

/* BD_E_CHANGED unless f's metadata, taken again from the handle, still has before's size,
 * mtime and ctime (a write, a truncation, a rename or an unlink changes one of them). */
bd_status bd_check_unchanged(bd_file *f, const bd_stat *before, bd_error *e);

#endif
