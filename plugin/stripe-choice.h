/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: what the upstream's round trip, timed at startup
 * before anything is written, chooses: the stripe when segment-size= is
 * not given, and how many connections to keep when connections= is not.
 */

#ifndef MULTICOPY_STRIPE_CHOICE_H
#define MULTICOPY_STRIPE_CHOICE_H

#include <stdbool.h>
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

/* A near upstream that does not advertise multi-conn (a proxy, a
 * gateway, a link capped per connection, a server that takes one
 * request at a time on each connection) gets its parallelism from the
 * connections alone: stripes of this size put a copier's 2M requests
 * on four of them instead of one.  Measured: qemu-img -m 8 over a link
 * capped at 200 Mbit/s per connection 10.5x direct with 2M, 12.5x with
 * this; into a one-request-at-a-time server with no delay, 1.30x the
 * nbd plugin's time with 2M, 1.14x with this.
 */
#define STRIPE_NEAR_SINGLE_SIZE (UINT64_C (1) << 19)

/* A near upstream that advertises multi-conn (qemu-nbd -e, nbdkit's
 * file and memory plugins) serves many requests on each connection at
 * once: past a few connections, each more only costs it a thread's
 * wake-up per request (measured: 4K random writes from one client did
 * 0.93x the IOPS of nbdkit's nbd plugin with 16 connections, 1.03x with
 * one).  A far one, or one without multi-conn, keeps them all.
 */
#define NEAR_CONNECTIONS   4

/* With the n handles connected and nothing written yet, times a few
 * reads of probe_len bytes (pool.probe_len, the smallest read the
 * upstream takes; 0: the disk is smaller) at offset 0: the median over
 * the handles of each one's shortest round trip, in µs; or -1, and
 * why (of len bytes) says why not.  Never fails otherwise: an upstream
 * that does not answer in time gives -1.
 */
extern int64_t upstream_round_trip (struct nbd_handle **handles, int n,
                                    uint32_t probe_len,
                                    char *why, size_t len);

/* The stripe for a round trip of rtt µs (-1: unknown, probe_failed
 * says why) to an upstream that does or does not advertise multi-conn
 * on all its connections: STRIPE_FAR_SIZE if rtt is at least
 * STRIPE_FAR_RTT_US; near, MULTICOPY_SEGMENT_SIZE_DEFAULT with
 * multi-conn and STRIPE_NEAR_SINGLE_SIZE without; unknown, the default.
 * why (of len bytes) says what was measured, for the startup line.
 */
extern void stripe_choose (int64_t rtt, const char *probe_failed,
                           bool multi_conn, uint64_t *segment_size,
                           char *why, size_t len);

/* Whether the near rule may keep fewer than n connections: more than
 * NEAR_CONNECTIONS, one server (several: each needs its share), all of
 * whose connections advertise multi-conn.  Only the round trip is
 * left to decide, so the probe need not run when this is false.
 */
extern bool connections_may_shrink (int n, bool multi_conn,
                                    unsigned nr_servers);

/* How many of the n connections up to keep, for a round trip of rtt
 * µs (-1: unknown): n, or NEAR_CONNECTIONS if connections_may_shrink
 * and the upstream is near.  If fewer, why (of len bytes) says why,
 * for the startup line.
 */
extern int connections_choose (int n, int64_t rtt, bool multi_conn,
                               unsigned nr_servers, char *why, size_t len);

#endif /* MULTICOPY_STRIPE_CHOICE_H */
