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
 * says why): MULTICOPY_SEGMENT_SIZE_DEFAULT, or STRIPE_FAR_SIZE if rtt
 * is at least STRIPE_FAR_RTT_US.  why (of len bytes) says what was
 * measured, for the startup line.
 */
extern void stripe_choose (int64_t rtt, const char *probe_failed,
                           uint64_t *segment_size, char *why, size_t len);

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
