/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* Unit test of common/replay-log.h: the ring keeps what no flush has
 * covered, in issue order, within its size; a flush frees what
 * completed before it was sent, oldest first; entries still out hold
 * back the freeing of later ones but are never lost; failed pieces
 * are never replayed; and a long random run against a model keeps all
 * of that.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay-log.h"
#include "route-op.h"
#include "unit-check.h"

static struct replay_entry *
write_entry (struct replay_log *log, uint64_t offset, uint32_t count)
{
  struct replay_entry *e = replay_log_reserve (log, ROUTE_WRITE, offset,
                                               count, 0, count);

  if (e)
    memset (e->data, (int) (offset & 0xff), count);
  return e;
}

/* The offsets of the done entries, oldest first, into out; how many. */
static unsigned
done_offsets (const struct replay_log *log, uint64_t *out, unsigned max)
{
  struct replay_walk w;
  struct replay_entry *e;
  unsigned n = 0;

  replay_log_walk_start (log, &w);
  while ((e = replay_log_next (log, &w)) != NULL)
    if (e->state == REPLAY_DONE && n < max)
      out[n++] = e->offset;
  return n;
}

static void
test_order_and_cover (void)
{
  struct replay_log log;
  struct replay_entry *a, *b, *c;
  uint64_t offs[8], mark;
  unsigned n;

  CHECK (replay_log_init (&log, 64 * 1024, 64 * 1024) == 0, "init");
  a = write_entry (&log, 0, 4096);
  b = write_entry (&log, 4096, 4096);
  c = replay_log_reserve (&log, ROUTE_ZERO, 8192, 65536, 0, 0);
  CHECK (a && b && c, "three entries fit");
  /* b completes first, then c; a is still out. */
  replay_log_complete (&log, b, true);
  replay_log_complete (&log, c, true);
  mark = replay_log_mark (&log);
  n = done_offsets (&log, offs, 8);
  CHECK (n == 2 && offs[0] == 4096 && offs[1] == 8192,
         "done entries in issue order: %u", n);
  /* A flush sent now covers b and c, but a is at the tail, still out. */
  CHECK (replay_log_covered (&log, mark) == 0, "nothing freed past a");
  replay_log_complete (&log, a, true);
  /* a completed after the flush was sent: not covered. */
  CHECK (replay_log_covered (&log, mark) == 0, "a is not covered by it");
  CHECK (replay_log_covered (&log, replay_log_mark (&log)) > 0 &&
         log.used == 0, "a later flush frees everything");
  replay_log_free (&log);
}

static void
test_full_and_wrap (void)
{
  struct replay_log log;
  struct replay_entry *e[16];
  size_t one = replay_entry_size (1000);
  unsigned i, n;
  uint64_t offs[16];

  CHECK (replay_log_init (&log, 4 * one + 16, 4 * one + 16) == 0, "init");
  for (i = 0; i < 4; ++i)
    CHECK ((e[i] = write_entry (&log, i * 1000, 1000)) != NULL, "fits %u", i);
  CHECK (write_entry (&log, 9999, 1000) == NULL, "no room for a fifth");
  for (i = 0; i < 4; ++i)
    replay_log_complete (&log, e[i], true);
  /* Free the first two only: a flush covering them, then two more. */
  log.done_seq = 2;
  replay_log_covered (&log, 2);
  log.done_seq = 4;
  CHECK (log.used == 2 * one, "two freed");
  /* The next entry does not fit at the end (16 bytes): it wraps. */
  CHECK ((e[4] = write_entry (&log, 4000, 1000)) != NULL, "wraps");
  CHECK (e[4] == (struct replay_entry *) log.buf, "at the start");
  CHECK ((e[5] = write_entry (&log, 5000, 1000)) != NULL, "another");
  CHECK (write_entry (&log, 6000, 1000) == NULL, "full again");
  replay_log_complete (&log, e[4], true);
  replay_log_complete (&log, e[5], true);
  n = done_offsets (&log, offs, 16);
  CHECK (n == 4 && offs[0] == 2000 && offs[1] == 3000 && offs[2] == 4000 &&
         offs[3] == 5000, "order across the wrap (%u)", n);
  replay_log_covered (&log, replay_log_mark (&log));
  CHECK (log.used == 0, "all freed: %zu left", log.used);
  replay_log_free (&log);
}

static void
test_failed_and_forget (void)
{
  struct replay_log log;
  struct replay_entry *a, *b;
  uint64_t offs[4];

  CHECK (replay_log_init (&log, 65536, 65536) == 0, "init");
  a = write_entry (&log, 0, 512);
  b = write_entry (&log, 512, 512);
  replay_log_complete (&log, a, false);
  replay_log_complete (&log, b, true);
  CHECK (done_offsets (&log, offs, 4) == 1 && offs[0] == 512,
         "a failed piece is not replayed");
  replay_log_forget (&log);
  CHECK (done_offsets (&log, offs, 4) == 0 && log.used == 0,
         "forgotten: nothing to replay, nothing held");
  replay_log_free (&log);
}

/* Growing: only when not wrapped, never past the capacity, keeping
 * what it holds in order.
 */
static void
test_grow (void)
{
  struct replay_log log;
  size_t one = replay_entry_size (1000);
  struct replay_entry *e[8];
  uint64_t offs[8];
  unsigned i;

  CHECK (replay_log_init (&log, 2 * one, 8 * one) == 0, "init");
  for (i = 0; i < 2; ++i)
    replay_log_complete (&log, e[i] = write_entry (&log, i * 1000, 1000),
                         true);
  CHECK (write_entry (&log, 2000, 1000) == NULL, "full at 2");
  CHECK (replay_log_grow (&log) && log.size == 4 * one, "grows to 4");
  CHECK ((e[2] = write_entry (&log, 2000, 1000)) != NULL, "room after");
  replay_log_complete (&log, e[2], true);
  /* Free the first, fill to the end, wrap: then it must not grow. */
  replay_log_covered (&log, 1);
  CHECK ((e[3] = write_entry (&log, 3000, 1000)) != NULL, "fourth");
  CHECK ((e[4] = write_entry (&log, 4000, 1000)) != NULL, "wraps to 0");
  CHECK (!replay_log_grow (&log), "grew while wrapped");
  replay_log_complete (&log, e[3], true);
  replay_log_complete (&log, e[4], true);
  CHECK (done_offsets (&log, offs, 8) == 4 && offs[0] == 1000 &&
         offs[3] == 4000, "order kept across growing and wrapping");
  replay_log_covered (&log, replay_log_mark (&log));
  CHECK (replay_log_grow (&log) && log.size == 8 * one, "grows when empty");
  CHECK (!replay_log_grow (&log), "past its capacity");
  replay_log_free (&log);
}

/* Random pieces against a model: in flight, done (not yet covered),
 * or freed; flushes sent and completed at random.  What the log holds
 * as done must be exactly what completed and no completed flush sent
 * after it covered, in issue order, and used never above size.
 */
#define MODEL 4096
static void
test_random (void)
{
  struct replay_log log;
  struct {
    struct replay_entry *e;
    uint64_t offset;
    int state;                  /* 0 out, 1 done, 2 failed, 3 covered */
    uint64_t seq;
  } m[MODEL];
  unsigned nr = 0, i, steps;
  uint64_t flush_mark = 0;
  bool flushing = false;

  CHECK (replay_log_init (&log, 16 * 1024, 256 * 1024) == 0, "init");
  srandom (20261202);
  for (steps = 0; steps < 200000 && nr < MODEL; ++steps) {
    unsigned r = (unsigned) random () % 100;

    if (r < 40) {
      uint32_t len = 512 * (1 + (unsigned) random () % 32);
      struct replay_entry *e = write_entry (&log, nr, len);

      if (e)
        m[nr++] = (typeof (m[0])) { .e = e, .offset = e->offset };
    }
    else if (r < 42)
      replay_log_grow (&log);
    else if (r < 80) {
      /* Complete one that is out. */
      for (i = 0; i < nr; ++i) {
        if (m[i].state == 0 && random () % 3 == 0) {
          bool ok = random () % 10 != 0;
          replay_log_complete (&log, m[i].e, ok);
          m[i].state = ok ? 1 : 2;
          m[i].seq = m[i].e->seq;
          break;
        }
      }
    }
    else if (r < 90 && !flushing) {
      flush_mark = replay_log_mark (&log);
      flushing = true;
    }
    else if (flushing) {
      replay_log_covered (&log, flush_mark);
      flushing = false;
      for (i = 0; i < nr; ++i)
        if (m[i].state == 1 && m[i].seq <= flush_mark)
          m[i].state = 3;
    }
    CHECK (log.used <= log.size && log.size <= log.capacity,
           "used %zu of %zu, of %zu", log.used, log.size, log.capacity);
  }
  /* Every entry the model holds as done and not covered is in the log
   * as done, in issue order; the log may also keep done entries that a
   * flush covered but an older entry still out held back; it never
   * holds a failed one as done.
   */
  {
    struct replay_walk w;
    struct replay_entry *e;
    unsigned k = 0, bad = 0;

    replay_log_walk_start (&log, &w);
    while ((e = replay_log_next (&log, &w)) != NULL) {
      if (e->state != REPLAY_DONE)
        continue;
      bad += m[e->offset].state == 2 || m[e->offset].state == 0;
      /* The model's uncovered ones must come in this order. */
      while (k < nr && m[k].state != 1)
        ++k;
      if (k < nr && m[k].offset == e->offset)
        ++k;
    }
    while (k < nr && m[k].state != 1)
      ++k;
    CHECK (k == nr, "entry %u, done and not covered, is missing or out of "
           "order", k);
    CHECK (bad == 0, "%u entries done in the log but not in the model", bad);
  }
  printf ("random: %u entries, %zu bytes still held, most %zu of %zu\n",
          nr, log.used, log.most, log.size);
  replay_log_free (&log);
}

int
main (void)
{
  test_order_and_cover ();
  test_full_and_wrap ();
  test_failed_and_forget ();
  test_grow ();
  test_random ();
  if (failures) {
    fprintf (stderr, "%u failures\n", failures);
    return 1;
  }
  printf ("replay-log: all checks passed\n");
  return 0;
}
