/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the stripe for the upstream, chosen at startup
 * from its round trip when segment-size= is not given.
 */

#ifndef MULTICOPY_STRIPE_CHOICE_H
#define MULTICOPY_STRIPE_CHOICE_H

#include <stddef.h>
#include <stdint.h>

#include <libnbd.h>

/* Over this round trip the upstream is far (a network, not this
 * host): smaller stripes spread a copier's few large requests over
 * more connections, where each waits its round trip side by side.
 * Near, the larger stripe costs less CPU per byte.
 */
#define STRIPE_FAR_RTT_US  1000
#define STRIPE_FAR_SIZE    (UINT64_C (1) << 20)

/* With the n handles connected and nothing written yet, times a few
 * reads of probe_len bytes (pool.probe_len, the smallest read the
 * upstream takes; 0: the disk is smaller) at offset 0 and sets
 * *segment_size: the default,
 * or STRIPE_FAR_SIZE if the median over the handles of each one's
 * shortest round trip is at least STRIPE_FAR_RTT_US.  why (of len bytes) says what was measured.
 * Never fails: an upstream that does not answer in time keeps the
 * default.
 */
extern void stripe_choose (struct nbd_handle **handles, int n,
                           uint32_t probe_len, uint64_t *segment_size,
                           char *why, size_t len);

#endif /* MULTICOPY_STRIPE_CHOICE_H */
