/* bd_tar.h: tar headers (ustar, pax, GNU long names) read from a buffer of the tar stream.
 *
 * The caller decompresses and keeps a buffer of the stream; each bd_tar_read call takes the
 * members whose headers (and, for small files, data) are whole in it and says how many bytes
 * it used.  It writes nothing and judges no name: the caller checks every member (bodega's
 * archive rules) before anything is written.  Malformed headers are BD_E_CORRUPT with the
 * reason as e->op and the member's name (when known) as e->path.
 */
#ifndef BODEGA_BD_TAR_H
#define BODEGA_BD_TAR_H

#include <stddef.h>
#include <stdint.h>
#include "bd_status.h"

/* One member.  type is the tar type flag with regular files as '0' (also for '\0', '7')
 * and a V7 directory ('\0' with a trailing '/') as '5'; a GNU sparse file is refused. */
typedef struct bd_tar_member {
    char type;
    uint32_t mode;      /* the mode field (permission bits and possibly more) */
    int64_t mtime_ns;
    uint64_t size;      /* data bytes (0 for types that carry none) */
    size_t name_off, name_len;   /* in the reader's names (valid until the next call) */
    size_t link_off, link_len;   /* link target, for '1' and '2' */
    size_t data_off;    /* where the data starts in the buffer */
    int data_whole;     /* 1: all size bytes are in the buffer; 0: the caller reads them from
                         * the stream (then size rounded up to 512 bytes) before calling again */
} bd_tar_member;

/* A reader's state between calls (extended headers waiting for their member).
 * Zero-initialise it; bd_tar_free releases it. */
typedef struct bd_tar {
    uint64_t offset;         /* stream offset of the next header */
    char *names;             /* the member names of the last call */
    size_t names_len, names_cap;
    char *next_name, *next_link;  /* from GNU 'L'/'K' or pax path/linkpath for the next member */
    size_t next_name_len, next_link_len;
    int has_name, has_link, has_size, has_mtime;
    uint64_t next_size;
    int64_t next_mtime_ns;
    char *global_name, *global_link;  /* pax global ('g') values, for every later member */
    size_t global_name_len, global_link_len;
    int has_global_name, has_global_link, has_global_size, has_global_mtime;
    uint64_t global_size;
    int64_t global_mtime_ns;
    int ended;               /* the end-of-archive block was read */
} bd_tar;

/* Reads members from buf[0 .. len) into out (at most cap).  A file of at most max_whole
 * bytes is returned only with its data (and padding) in the buffer; a larger one with its
 * header alone (data_whole 0), and the call stops after it.  *used: bytes consumed;
 * *need: when nonzero, the bytes from *used the next member needs in the buffer (refill
 * and call again).  eof: nothing follows buf, so a member cut short is BD_E_CORRUPT ("an
 * archive that ends at a header boundary without the end blocks is accepted, as tar does).
 * After the end block, t->ended is set and calls return nothing.  Damage after members
 * that were read whole returns those members first (BD_OK); the next call, which starts at
 * the damaged header, fails. */
bd_status bd_tar_read(bd_tar *t, const unsigned char *buf, size_t len, int eof, size_t max_whole,
                      bd_tar_member *out, size_t cap, size_t *count, size_t *used, size_t *need,
                      bd_error *e);

void bd_tar_free(bd_tar *t);

#endif
