/* nbdkit-multicopy filter: the N backend contexts of one client
 * connection, and what they can do together.
 */

#ifndef MULTICOPY_CONTEXTS_H
#define MULTICOPY_CONTEXTS_H

#include <stdbool.h>
#include <stdint.h>

#include <nbdkit-filter.h>

#include "params.h"
#include "stripe.h"

struct contexts {
  /* ctx[0] is the context nbdkit opens for the connection and manages
   * itself; ctx[1..nr-1] are ours, opened shared (nbdkit 1.32 aborts on
   * a second non-shared context in one connection).
   */
  nbdkit_next *ctx[MULTICOPY_CONNECTIONS_MAX];
  bool prepared[MULTICOPY_CONNECTIONS_MAX];
  unsigned nr;
  struct stripe_map map;
  uint64_t max_piece;           /* 0: only stripes split requests */

  /* The AND over all contexts (the weakest for tri-states). */
  int64_t size;
  int can_write, can_flush, is_rotational, can_trim, can_zero;
  int can_fast_zero, can_extents, can_fua, can_multi_conn, can_cache;
  uint32_t block_min, block_pref, block_max;
};

/* .open: open contexts 1..nr-1 beside the one nbdkit opened. */
extern int contexts_open (struct contexts *cs, nbdkit_context *context,
                          unsigned nr, int readonly, const char *exportname);

/* .prepare: prepare ours, then ask every context every question the
 * data path relies on (nbdkit asserts they were asked) and merge.
 */
extern int contexts_prepare (struct contexts *cs, nbdkit_next *first,
                             uint64_t segment_size);

/* .finalize and .close. */
extern int contexts_finalize (struct contexts *cs);
extern void contexts_close (struct contexts *cs);

#endif /* MULTICOPY_CONTEXTS_H */
