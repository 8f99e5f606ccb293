/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: a replay log, the writes, zeroes and trims one
 * connection below carried that no flush of that connection has
 * covered yet, in the order they were issued, so that they can be
 * sent again on a new connection if the old one is lost (its server
 * may have dropped them).
 *
 * A ring of bounded size, so that memory is bounded and nothing is
 * allocated per piece.  It starts small and doubles when it is full
 * but not wrapped (the caller decides when): on a machine where the
 * first touch of memory is dear, a fast upstream's log stays small.  An entry is reserved before its piece is sent
 * (in issue order), filled with a copy of its data when the piece
 * completes (done, stamped with a completion number) or marked failed,
 * and freed, oldest first, once a flush sent after its completion has
 * succeeded: a flush covers the writes that completed before it was
 * sent.  An entry still out blocks the freeing of those after it,
 * which only keeps them a little longer.
 *
 * No lock: the caller holds one around every call.  The data of a
 * done entry does not change until it is freed, so it may be read
 * without the lock by whoever knows that nothing frees it meanwhile.
 */

#ifndef MULTICOPY_REPLAY_LOG_H
#define MULTICOPY_REPLAY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "piece-tag.h"

enum replay_state {
  REPLAY_RESERVED,              /* its piece is out */
  REPLAY_DONE,                  /* acknowledged: to be replayed */
  REPLAY_FAILED,                /* its piece failed: nothing to replay */
  REPLAY_PAD,                   /* the unused end of the ring */
};

struct replay_entry {
  uint32_t len;                 /* bytes in the ring, this header too */
  uint8_t op;                   /* route-op.h: write, zero or trim */
  uint8_t state;
  uint32_t count;
  uint32_t flags;               /* libnbd's, to send it again with */
  uint64_t offset;
  uint64_t seq;                 /* completion number, once done */
  /* The writer's, while the piece is out: what its completion is
   * told, and where the data is until it is copied.
   */
  struct piece_tag tag;
  const void *src;
  unsigned char data[];         /* count bytes, for a write */
};

struct replay_log {
  unsigned char *buf;
  size_t size;                  /* in use as the ring now */
  size_t capacity;              /* mapped: what size may grow to */
  size_t head, tail, used;
  uint64_t done_seq;            /* entries completed so far */
  size_t most;                  /* the most ever used */
};

/* The room one entry of len data bytes takes. */
extern size_t replay_entry_size (size_t len);

/* A ring that starts at size bytes and may grow to capacity
 * (multiples of 8).  -1 if out of memory.
 */
extern int replay_log_init (struct replay_log *log, size_t size,
                            size_t capacity);
extern void replay_log_free (struct replay_log *log);

/* Double the ring, up to its capacity, if its entries do not wrap
 * around its end just now.  Returns whether it grew.
 */
extern bool replay_log_grow (struct replay_log *log);

/* Reserve an entry for a piece, with room for len bytes of data (0
 * for a zero or a trim): NULL if there is no room now.
 */
extern struct replay_entry *replay_log_reserve (struct replay_log *log,
                                                uint8_t op, uint64_t offset,
                                                uint32_t count,
                                                uint32_t flags, size_t len);

/* Its piece completed: ok, with its data already copied into
 * e->data, or failed.
 */
extern void replay_log_complete (struct replay_log *log,
                                 struct replay_entry *e, bool ok);

/* Before sending a flush: what it will cover. */
static inline uint64_t
replay_log_mark (const struct replay_log *log)
{
  return log->done_seq;
}

/* A flush sent at mark succeeded: free what it covered, oldest first.
 * Returns the bytes freed.
 */
extern size_t replay_log_covered (struct replay_log *log, uint64_t mark);

/* What cannot be saved any more: every done entry becomes failed, and
 * is freed when it is at the tail.
 */
extern void replay_log_forget (struct replay_log *log);

/* Walking the log, oldest first, over the bytes in use when the walk
 * began: start with replay_log_walk_start, then call replay_log_next
 * until it returns NULL.  Every entry is returned, whatever its state
 * (padding aside).
 */
struct replay_walk {
  size_t pos, left;
};
extern void replay_log_walk_start (const struct replay_log *log,
                                   struct replay_walk *w);
extern struct replay_entry *replay_log_next (const struct replay_log *log,
                                             struct replay_walk *w);

#endif /* MULTICOPY_REPLAY_LOG_H */
