/* bd_lock.h: advisory whole-file locks that go with the process (the store lock, journals).
 *
 * posix/lock.c uses flock(2): the lock belongs to the open file description, so two opens
 * in one process conflict as two processes do, and closing the file (or dying) releases it.
 * win32/lock.c uses LockFileEx on one byte far past any real end of file, so holding the
 * lock never blocks anyone's reads or writes of the content (Windows range locks are
 * mandatory); closing the handle (or dying) releases it.
 */
#ifndef BODEGA_BD_LOCK_H
#define BODEGA_BD_LOCK_H

#include "bd_platform.h"

/* Tries to lock the open file f, exclusive or shared, without waiting: *taken is 1 when
 * this handle now holds the lock, 0 when another holder's lock conflicts (not an error).
 * Locking again through the same handle changes the lock's kind.  Waiting, with a deadline,
 * is the caller's loop. */
bd_status bd_file_lock(bd_file *f, int exclusive, int *taken, bd_error *e);

#endif
