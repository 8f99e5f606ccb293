/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* Unit test of common/flow-limit.h: the in-flight limit against model
 * upstreams, in simulated time.
 *
 * A client always has `demand` pieces it wants out; the gate lets out
 * as many as the limit allows.  The model upstream has `lanes`
 * connections that each serve one piece at a time, in order, each
 * piece going to a random one (ownership: which connection is not the
 * gate's choice), or, with lanes 0, serves every piece at once.  What
 * must hold:
 *   - a fast server that serves one piece at a time (the CPU-bound
 *     case) is held to a handful in flight, not what the client sends;
 *   - a slow server with many one-at-a-time connections (the latency
 *     case) keeps them busy: near the throughput an unlimited gate gets;
 *   - a server with room for everything (a long fat link) never
 *     throttles the client;
 *   - after the server turns slower, the limit comes back up;
 *   - max-in-flight=N never moves.
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "flow-limit.h"
#include "unit-check.h"

#define MAX_OUT 1024
#define SECOND 1000000

struct model {
  unsigned lanes;               /* 0: serves every piece at once */
  int64_t service_us;
  unsigned demand;              /* pieces the client keeps wanting out */
};

struct piece { int64_t t0, done; };

struct run {
  int64_t now;
  int64_t lane_free[64];
  struct piece out[MAX_OUT];
  unsigned nr_out;
  uint64_t done_after_warmup;
  double limit_sum;             /* of the limit at each completion */
  uint64_t limit_samples;
};

/* Run the model for `us` from r->now; completions after `warmup` (an
 * absolute time) are counted.
 */
static void
simulate (struct run *r, struct flow_limit *fl, const struct model *m,
          int64_t us, int64_t warmup)
{
  int64_t end = r->now + us;

  while (r->now < end) {
    unsigned i, first = 0;

    while (r->nr_out < flow_limit_get (fl) && r->nr_out < m->demand &&
           r->nr_out < MAX_OUT) {
      struct piece *p = &r->out[r->nr_out++];

      p->t0 = r->now;
      if (m->lanes == 0)
        p->done = r->now + m->service_us;
      else {
        unsigned lane = (unsigned) random () % m->lanes;
        int64_t start = r->lane_free[lane] > r->now ? r->lane_free[lane]
                                                     : r->now;

        p->done = r->lane_free[lane] = start + m->service_us;
      }
      flow_limit_issued (fl, r->nr_out);
    }
    for (i = 1; i < r->nr_out; ++i)
      if (r->out[i].done < r->out[first].done)
        first = i;
    r->now = r->out[first].done;
    flow_limit_sample (fl, r->now, r->now - r->out[first].t0);
    r->out[first] = r->out[--r->nr_out];
    if (r->now >= warmup) {
      r->done_after_warmup++;
      r->limit_sum += flow_limit_get (fl);
      r->limit_samples++;
    }
  }
}

/* Pieces per second from warmup to the end, and the mean limit then. */
static void
measure (const struct model *m, unsigned start, unsigned max,
         double *rate, double *mean_limit)
{
  static struct run r;
  struct flow_limit fl;
  const int64_t len = 4 * SECOND, warmup = SECOND;

  r = (struct run) { .now = 0 };
  flow_limit_init (&fl, start, max);
  simulate (&r, &fl, m, len, warmup);
  *rate = r.done_after_warmup / ((double) (len - warmup) / SECOND);
  *mean_limit = r.limit_sum / r.limit_samples;
}

static void
test_fast_serial_server (void)
{
  /* 180 us a piece, one at a time: a 512M copy in 256K pieces takes
   * about 0.37 s, as qemu-nbd does on 2 cores.
   */
  const struct model m = { .lanes = 1, .service_us = 180, .demand = 64 };
  double rate, limit, full;

  measure (&m, 64, 0, &rate, &limit);
  CHECK (limit <= FLOW_MIN + 2 * FLOW_QUEUED,
         "held to %.1f in flight, want few", limit);
  full = SECOND / (double) m.service_us;
  CHECK (rate >= 0.99 * full, "%.0f pieces/s of %.0f", rate, full);
  printf ("fast serial server: %.1f in flight, %.0f of %.0f pieces/s\n",
          limit, rate, full);
}

static void
test_slow_connections (unsigned lanes, unsigned demand)
{
  /* 10 ms a piece, each connection one at a time (nbdkit's noparallel
   * and delay filters, the bench's latency10).
   */
  const struct model m = { .lanes = lanes, .service_us = 10000,
                           .demand = demand };
  double rate, limit, open, open_limit;

  measure (&m, 4 * lanes, 0, &rate, &limit);
  measure (&m, 4 * lanes, FLOW_MAX, &open, &open_limit);
  CHECK (rate >= 0.9 * open,
         "%u connections, %u wanted: %.0f pieces/s against %.0f unlimited",
         lanes, demand, rate, open);
  printf ("%u slow connections, %u wanted: %.1f in flight, "
          "%.0f pieces/s (unlimited %.0f)\n", lanes, demand, limit, rate, open);
}

static void
test_wide_server (void)
{
  /* Everything at once, 10 ms each: more in flight is all gain. */
  const struct model m = { .lanes = 0, .service_us = 10000, .demand = 256 };
  double rate, limit;

  measure (&m, 64, 0, &rate, &limit);
  CHECK (rate >= 0.98 * 256 * 100, "%.0f pieces/s of %d", rate, 256 * 100);
  printf ("wide server: %.1f in flight, %.0f pieces/s\n", limit, rate);
}

static void
test_server_slows_down (void)
{
  /* 16 connections at 1 ms, then at 10 ms: the base of the fast time
   * must not pin the limit down for ever.
   */
  static struct run r;
  struct model m = { .lanes = 16, .service_us = 1000, .demand = 128 };
  struct flow_limit fl;
  double rate;

  r = (struct run) { .now = 0 };
  flow_limit_init (&fl, 64, 0);
  simulate (&r, &fl, &m, 2 * SECOND, 2 * SECOND);
  m.service_us = 10000;
  simulate (&r, &fl, &m, 6 * SECOND, 2 * SECOND + 5 * SECOND);
  rate = r.done_after_warmup;   /* in the last second */
  CHECK (rate >= 0.8 * 16 * 100, "after slowing down: %.0f pieces/s", rate);
  printf ("server slowed down: %u in flight, %.0f pieces/s after 5 s\n",
          flow_limit_get (&fl), rate);
}

static void
test_fixed (void)
{
  struct flow_limit fl;
  int64_t t;

  flow_limit_init (&fl, 64, 3);
  for (t = 0; t < SECOND; t += 100) {
    flow_limit_issued (&fl, 3);
    flow_limit_sample (&fl, t, t % 5000 + 1);
  }
  CHECK (flow_limit_get (&fl) == 3, "fixed limit moved to %u",
         flow_limit_get (&fl));
  flow_limit_init (&fl, 1, 0);
  CHECK (flow_limit_get (&fl) == FLOW_MIN, "started below the minimum: %u",
         flow_limit_get (&fl));
}

int
main (void)
{
  srandom (20261201);
  test_fast_serial_server ();
  test_slow_connections (16, 64);
  test_slow_connections (16, 256);
  test_slow_connections (4, 64);
  test_slow_connections (64, 256);
  test_wide_server ();
  test_server_slows_down ();
  test_fixed ();
  if (failures) {
    fprintf (stderr, "%u failures\n", failures);
    return 1;
  }
  printf ("flow-limit: all checks passed\n");
  return 0;
}
