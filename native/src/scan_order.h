/* scan_order.h: a scan left in walk order, for the manifest built from it (not public).
 *
 * Sorting a scan moves every 96-byte entry once, on one thread, after the walk; a manifest
 * built from the scan reads each entry once anyway, on two threads, so it can as well read
 * them through the sorted order and the entries need never move.
 */
#ifndef BODEGA_SCAN_ORDER_H
#define BODEGA_SCAN_ORDER_H

#include <stdint.h>
#include "bodega/bd_scan.h"

/* bd_scan_tree_sized, except that the entries stay in the order the walk appended them
 * (their parent fields are sorted positions all the same): the entry at sorted position i is
 * bd_scan_entries(s)[bd_scan_sorted_order(s)[i]]. */
bd_status bd_scan_tree_gathered(const char *root_path, unsigned threads, size_t expect_entries,
                                size_t expect_bytes, bd_progress *p, bd_scan **out, bd_error *e);

/* The sorted order of a scan made by bd_scan_tree_gathered (sorted position -> index in
 * bd_scan_entries), or NULL when its entries are sorted already (every other scan). */
const uint32_t *bd_scan_sorted_order(const bd_scan *s);

#endif
