/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the stripe and the connections chosen from the
 * round trip (stripe-choice.h).
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <libnbd.h>

#include "clock.h"
#include "params.h"
#include "stripe-choice.h"

#define PROBE_READS  5
/* Reads of each of them, of which the shortest counts: a connection's
 * first request can wait for the server to start a thread for it.
 */
#define PROBE_TRIES  2
/* The largest minimum block size NBD allows. */
#define PROBE_MAX_LEN 65536
/* A round trip this long is far in any case: no need to wait more. */
#define PROBE_TIMEOUT_MS 2000

/* Where the reads land.  Not on the stack: a read that timed out is
 * left in flight (the handle carries on, and libnbd retires it), and
 * its reply may still come and be written here.  Nothing reads it.
 */
static char scratch[PROBE_MAX_LEN];

/* One read of len bytes at 0 on h: its round trip in µs, or -1 if it
 * failed or took over PROBE_TIMEOUT_MS.
 */
static int64_t
time_one_read (struct nbd_handle *h, void *buf, size_t len)
{
  int64_t t0 = now_us (), waited;
  int64_t cookie = nbd_aio_pread (h, buf, len, 0, NBD_NULL_COMPLETION, 0);

  if (cookie == -1)
    return -1;
  for (;;) {
    int done = nbd_aio_command_completed (h, cookie);

    if (done == 1)
      return now_us () - t0;
    waited = (now_us () - t0) / 1000;
    if (done == -1 || waited >= PROBE_TIMEOUT_MS ||
        nbd_poll (h, PROBE_TIMEOUT_MS - waited) == -1)
      return -1;
  }
}

/* The shortest of PROBE_TRIES reads on h, or -1. */
static int64_t
shortest_read (struct nbd_handle *h, void *buf, size_t len)
{
  int64_t best = -1, t;
  unsigned i;

  for (i = 0; i < PROBE_TRIES; ++i) {
    t = time_one_read (h, buf, len);
    if (t == -1)
      return -1;
    if (best == -1 || t < best)
      best = t;
  }
  return best;
}

static int
compare_us (const void *a, const void *b)
{
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

  return (x > y) - (x < y);
}

int64_t
upstream_round_trip (struct nbd_handle **handles, int n, uint32_t probe_len,
                     char *why, size_t len)
{
  int64_t rtt[PROBE_READS];
  unsigned i;

  if (probe_len == 0 || probe_len > sizeof scratch) {
    snprintf (why, len, "the disk is too small to probe");
    return -1;
  }
  /* Over the connections in turn, so that one server does not decide
   * for several.
   */
  for (i = 0; i < PROBE_READS; ++i) {
    rtt[i] = shortest_read (handles[i % n], scratch, probe_len);
    if (rtt[i] == -1) {
      snprintf (why, len, "a read to time the upstream's round trip "
                "failed or took over %d ms", PROBE_TIMEOUT_MS);
      return -1;
    }
  }
  qsort (rtt, PROBE_READS, sizeof rtt[0], compare_us);
  return rtt[PROBE_READS / 2];
}

void
stripe_choose (int64_t median, const char *probe_failed, bool multi_conn,
               uint64_t *segment_size, char *why, size_t len)
{
  bool far;

  *segment_size = MULTICOPY_SEGMENT_SIZE_DEFAULT;
  if (median == -1) {
    snprintf (why, len, "the default: %s", probe_failed);
    return;
  }
  far = median >= STRIPE_FAR_RTT_US;
  if (far)
    *segment_size = STRIPE_FAR_SIZE;
  else if (!multi_conn)
    *segment_size = STRIPE_NEAR_SINGLE_SIZE;
  snprintf (why, len, "%s: the upstream's round trip is " US_FMT
            ", %s %d ms%s",
            *segment_size == MULTICOPY_SEGMENT_SIZE_DEFAULT
            ? "the default" : "chosen",
            US_ARGS (median), far ? "at least" : "under",
            STRIPE_FAR_RTT_US / 1000,
            !far && !multi_conn ? ", and it does not advertise multi-conn"
                                : "");
}

bool
connections_may_shrink (int n, bool multi_conn, unsigned nr_servers)
{
  return n > NEAR_CONNECTIONS && nr_servers == 1 && multi_conn;
}

int
connections_choose (int n, int64_t rtt, bool multi_conn,
                    unsigned nr_servers, char *why, size_t len)
{
  if (!connections_may_shrink (n, multi_conn, nr_servers) ||
      rtt == -1 || rtt >= STRIPE_FAR_RTT_US)
    return n;
  snprintf (why, len, "%d of the %d: the upstream is near, its round "
            "trip under %d ms, and advertises multi-conn, so more would "
            "only cost it; connections= to choose",
            NEAR_CONNECTIONS, n, STRIPE_FAR_RTT_US / 1000);
  return NEAR_CONNECTIONS;
}
