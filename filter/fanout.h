/* nbdkit-multicopy filter: sending requests to the contexts that own
 * their stripes, and flushing all contexts.
 */

#ifndef MULTICOPY_FANOUT_H
#define MULTICOPY_FANOUT_H

#include <stdbool.h>
#include <stdint.h>

#include <nbdkit-filter.h>


enum fanout_op { FANOUT_READ, FANOUT_WRITE, FANOUT_ZERO, FANOUT_TRIM,
                 FANOUT_CACHE };

/* Split at stripe boundaries (and the plugin's maximum block size) and
 * call each owner in turn with the same flags.  buf is NULL for
 * commands without payload.
 */
extern int fanout_request (enum fanout_op op, void *buf, uint32_t count,
                           uint64_t offset, uint32_t flags, int *err);

/* Extents from the owner of offset, clipped at the end of its stripe. */
extern int fanout_extents (uint32_t count, uint64_t offset, uint32_t flags,
                           struct nbdkit_extents *extents, int *err);

/* Flush every context (only_dirty: every one holding writes not yet
 * flushed).  In parallel threads when the thread model lets us call
 * contexts from threads of our own, else in turn.
 */
extern int fanout_flush (uint32_t flags, bool only_dirty, int *err);

#endif /* MULTICOPY_FANOUT_H */
