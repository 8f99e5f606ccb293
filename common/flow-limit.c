/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the in-flight limit's arithmetic. */

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "flow-limit.h"

void
flow_limit_init (struct flow_limit *fl, unsigned start, unsigned max)
{
  fl->fixed = max > 0;
  fl->limit = fl->fixed ? max : start;
  if (!fl->fixed && fl->limit < FLOW_MIN)
    fl->limit = FLOW_MIN;
  if (fl->limit > FLOW_MAX)
    fl->limit = FLOW_MAX;
  fl->base_us = fl->prev_base_us = -1;
  fl->window_end_us = 0;
  fl->round_min_us = -1;
  fl->round_samples = 0;
  fl->round_peak = 0;
}

bool
flow_limit_sample (struct flow_limit *fl, int64_t now_us, int64_t rtt_us)
{
  double target, cap;
  int64_t base, trip;

  if (fl->fixed)
    return false;
  if (rtt_us < 1)
    rtt_us = 1;
  if (now_us >= fl->window_end_us) {
    fl->prev_base_us = fl->base_us;
    fl->base_us = -1;
    fl->window_end_us = now_us + FLOW_BASE_WINDOW_US;
  }
  fl->base_us = earliest (fl->base_us, rtt_us);
  fl->round_min_us = earliest (fl->round_min_us, rtt_us);

  /* A round: about half the pieces the limit lets out, so that the
   * limit can move several times within one round trip of the slowest
   * upstream and still sees enough trips to find a lucky one.
   */
  if (++fl->round_samples < (unsigned) fl->limit / 2 + 1)
    return false;

  base = earliest (fl->base_us, fl->prev_base_us);
  trip = fl->round_min_us;
  target = fl->limit * (double) base / (double) trip + FLOW_QUEUED;
  /* A full round in which even the luckiest piece waited for nothing
   * measurable: the upstream has room, find out how much at once
   * (doubling, as TCP's slow start), not a few pieces a round.  A
   * slow server beside a fast one starts from its share of the first
   * limit and would take many rounds of its long trips to get there.
   */
  if (trip <= base + base / FLOW_NO_QUEUE_FRACTION &&
      fl->round_peak >= (unsigned) fl->limit && target < 2 * fl->limit)
    target = 2 * fl->limit;

  /* A round that never reached the limit says nothing about more:
   * grow only to twice what was used, so that a limit grown while the
   * clients sent little does not let a burst flood the upstream later.
   */
  cap = 2.0 * fl->round_peak + FLOW_QUEUED;
  if (target > cap && fl->round_peak < (unsigned) fl->limit)
    target = cap > fl->limit ? cap : fl->limit;

  fl->limit = (fl->limit + target) / 2;
  if (fl->limit < FLOW_MIN)
    fl->limit = FLOW_MIN;
  if (fl->limit > FLOW_MAX)
    fl->limit = FLOW_MAX;

  fl->round_samples = 0;
  fl->round_min_us = -1;
  fl->round_peak = 0;
  return true;
}
