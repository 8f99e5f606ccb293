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
 * gate's choice), or, with lanes 0, serves every piece at once.  A
 * lane may also have a service time of its own, serve all its pieces
 * at once (wide), share one queue with other lanes (one server's core
 * behind several connections), and belong to a group with a limit of
 * its own (a server of several, as in-flight.c keeps them).  What
 * must hold:
 *   - a fast server that serves one piece at a time (the CPU-bound
 *     case) is held to a handful in flight, not what the client sends;
 *   - a slow server with many one-at-a-time connections (the latency
 *     case) keeps them busy: near the throughput an unlimited gate gets;
 *   - a server with room for everything (a long fat link) never
 *     throttles the client;
 *   - after the server turns slower, the limit comes back up;
 *   - of two servers, a slow one (50 ms a write) beside a fast one
 *     does not starve both, each with its own limit; with one limit
 *     over both it would (checked too, so that the model can fail);
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
  /* Per lane, where set: its own service time; wide: every piece at
   * once; queue: the lane whose queue it shares, plus one; group: its
   * limit, of the run's.
   */
  int64_t lane_service_us[64];
  bool lane_wide[64];
  unsigned lane_queue[64];
  unsigned lane_group[64];
};

struct piece { int64_t t0, done; unsigned lane; };

struct run {
  int64_t now;
  int64_t lane_free[64];
  struct piece out[MAX_OUT];
  unsigned nr_out;
  unsigned group_out[2];        /* of nr_out, in each group */
  int next_lane;                /* -1: not chosen yet */
  uint64_t done_after_warmup;
  double limit_sum;             /* of the limit at each completion */
  uint64_t limit_samples;
};

/* Run the model for `us` from r->now, lane l's pieces held to the
 * limit fl[m->lane_group[l]]; completions after `warmup` (an absolute
 * time) are counted.
 */
static void
simulate (struct run *r, struct flow_limit *fl, const struct model *m,
          int64_t us, int64_t warmup)
{
  int64_t end = r->now + us;

  while (r->now < end) {
    unsigned i, first = 0;

    /* The next piece's connection is its stripe's, chosen before the
     * gate: it waits for room with it, and the client with it.
     */
    while (r->nr_out < m->demand && r->nr_out < MAX_OUT) {
      struct piece *p;
      unsigned lane, q, g;
      int64_t service, start;

      if (r->next_lane < 0)
        r->next_lane = m->lanes ? (int) ((unsigned) random () % m->lanes) : 0;
      lane = r->next_lane;
      g = m->lane_group[lane];
      if (r->group_out[g] >= flow_limit_get (&fl[g]))
        break;
      r->next_lane = -1;
      p = &r->out[r->nr_out++];
      r->group_out[g]++;
      p->t0 = r->now;
      p->lane = lane;
      q = m->lane_queue[lane] ? m->lane_queue[lane] - 1 : lane;
      service = m->lane_service_us[lane] ? m->lane_service_us[lane]
                                         : m->service_us;
      start = r->lane_free[q] > r->now ? r->lane_free[q] : r->now;
      if (m->lanes == 0 || m->lane_wide[lane])
        p->done = r->now + service;
      else
        p->done = r->lane_free[q] = start + service;
      flow_limit_issued (&fl[g], r->group_out[g]);
    }
    for (i = 1; i < r->nr_out; ++i)
      if (r->out[i].done < r->out[first].done)
        first = i;
    r->now = r->out[first].done;
    flow_limit_sample (&fl[m->lane_group[r->out[first].lane]], r->now,
                       r->now - r->out[first].t0);
    r->group_out[m->lane_group[r->out[first].lane]]--;
    r->out[first] = r->out[--r->nr_out];
    if (r->now >= warmup) {
      r->done_after_warmup++;
      r->limit_sum += flow_limit_get (&fl[0]);
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
  struct flow_limit fl[2];
  const int64_t len = 4 * SECOND, warmup = SECOND;

  r = (struct run) { .now = 0, .next_lane = -1 };
  flow_limit_init (&fl[0], start, max);
  flow_limit_init (&fl[1], start, max);
  simulate (&r, fl, m, len, warmup);
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

  r = (struct run) { .now = 0, .next_lane = -1 };
  flow_limit_init (&fl, 64, 0);
  simulate (&r, &fl, &m, 2 * SECOND, 2 * SECOND);
  m.service_us = 10000;
  simulate (&r, &fl, &m, 6 * SECOND, 2 * SECOND + 5 * SECOND);
  rate = r.done_after_warmup;   /* in the last second */
  CHECK (rate >= 0.8 * 16 * 100, "after slowing down: %.0f pieces/s", rate);
  printf ("server slowed down: %u in flight, %.0f pieces/s after 5 s\n",
          flow_limit_get (&fl), rate);
}

/* A fast server, its connections sharing one core (the CPU-bound
 * case with many connections), is held to a handful.
 */
static void
test_fast_shared_server (unsigned lanes)
{
  struct model m = { .lanes = lanes, .service_us = 180, .demand = 64 };
  double rate, limit, full = SECOND / 180.0;
  unsigned i;

  for (i = 0; i < lanes; ++i)
    m.lane_queue[i] = 1;        /* all in lane 0's queue */
  measure (&m, 4 * lanes, 0, &rate, &limit);
  CHECK (limit <= FLOW_MIN + 2 * FLOW_QUEUED,
         "%u connections to one core: held to %.1f in flight, want few",
         lanes, limit);
  CHECK (rate >= 0.99 * full, "%.0f pieces/s of %.0f", rate, full);
  printf ("%u connections to one fast core: %.1f in flight, %.0f of %.0f "
          "pieces/s\n", lanes, limit, rate, full);
}

/* Two servers, four connections each: one fast (its connections share
 * one core, 50 us a piece), one slow (50 ms a write, many at once).
 * own: each server has its own limit, as in-flight.c keeps them.
 * Returns the time against no limit at all.
 */
static double
two_servers (bool own)
{
  struct model m = { .lanes = 8, .service_us = 50, .demand = 128 };
  double rate, limit, open, open_limit;
  unsigned i;

  for (i = 0; i < 8; ++i) {
    if (i < 4)
      m.lane_queue[i] = 1;
    else {
      m.lane_service_us[i] = 50000;
      m.lane_wide[i] = true;
      m.lane_group[i] = own;
    }
  }
  measure (&m, 4 * (own ? 4 : 8), 0, &rate, &limit);
  measure (&m, 4 * 8, FLOW_MAX, &open, &open_limit);
  printf ("two servers, one slow, %s: %.0f pieces/s (unlimited %.0f): "
          "%.2f times the time\n", own ? "a limit each" : "one limit",
          rate, open, open / rate);
  return open / rate;
}

static void
test_two_servers (void)
{
  double shared = two_servers (false), own = two_servers (true);

  CHECK (own <= 1.3, "two servers with a limit each: %.2f times the time "
         "of no limit", own);
  CHECK (shared > 1.3, "one limit over two unequal servers took only %.2f "
         "times the time of no limit: the model no longer shows the fault",
         shared);
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
  test_fast_shared_server (4);
  test_fast_shared_server (16);
  test_two_servers ();
  test_fixed ();
  if (failures) {
    fprintf (stderr, "%u failures\n", failures);
    return 1;
  }
  printf ("flow-limit: all checks passed\n");
  return 0;
}
