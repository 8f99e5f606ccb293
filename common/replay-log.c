/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the replay log's ring (replay-log.h). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "replay-log.h"

/* Linux 5.14; the value is the kernel's, for older headers. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define ALIGN 8
#define HEADER sizeof (struct replay_entry)

size_t
replay_entry_size (size_t len)
{
  return (HEADER + len + ALIGN - 1) / ALIGN * ALIGN;
}

/* Map the pages of [from, to) of the ring in one call, before any
 * copy touches them: a page fault per page costs about twice as much
 * (on a VM each fault may also leave the guest).  An older kernel
 * refuses, and the copies fault them in as before.
 */
static void
populate (struct replay_log *log, size_t from, size_t to)
{
  size_t page = sysconf (_SC_PAGESIZE);

  from = from / page * page;
  to = (to + page - 1) / page * page;
  if (to > log->capacity)
    to = log->capacity;
  if (to > from)
    madvise (log->buf + from, to - from, MADV_POPULATE_WRITE);
}

/* The ring is mapped, not allocated: untouched pages cost nothing, and
 * it can grow in place up to its capacity.
 */
int
replay_log_init (struct replay_log *log, size_t size, size_t capacity)
{
  void *p;

  memset (log, 0, sizeof *log);
  log->capacity = capacity / ALIGN * ALIGN;
  log->size = size / ALIGN * ALIGN;
  if (log->size > log->capacity)
    log->size = log->capacity;
  p = mmap (NULL, log->capacity, PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return -1;
  log->buf = p;
  populate (log, 0, log->size);
  return 0;
}

bool
replay_log_grow (struct replay_log *log)
{
  size_t bigger = log->size * 2 > log->capacity ? log->capacity
                                                : log->size * 2;

  if (bigger <= log->size)
    return false;
  if (log->used == 0)
    log->head = log->tail = 0;
  else if (log->head <= log->tail) {
    /* Full from 0 to the end: the head goes on after it. */
    if (!(log->tail == 0 && log->used == log->size))
      return false;             /* wrapped: grow when it is not */
    log->head = log->size;
  }
  populate (log, log->size, bigger);
  log->size = bigger;
  return true;
}

void
replay_log_free (struct replay_log *log)
{
  if (log->buf)
    munmap (log->buf, log->capacity);
  log->buf = NULL;
}

static struct replay_entry *
at (const struct replay_log *log, size_t pos)
{
  return (struct replay_entry *) (log->buf + pos);
}

/* The end of the ring from pos on is too short for a header: it is
 * padding, without one.
 */
static bool
short_end (const struct replay_log *log, size_t pos)
{
  return log->size - pos < HEADER;
}

struct replay_entry *
replay_log_reserve (struct replay_log *log, uint8_t op, uint64_t offset,
                    uint32_t count, uint32_t flags, size_t len)
{
  size_t need = replay_entry_size (len), end_room;
  struct replay_entry *e;

  if (log->used == 0)
    log->head = log->tail = 0;  /* all of it in one piece again */
  if (need > log->size - log->used)
    return NULL;
  if (log->head >= log->tail) {
    /* Free: from head to the end, and from 0 to tail. */
    end_room = log->size - log->head;
    if (need > end_room) {
      if (need > log->tail)
        return NULL;
      if (!short_end (log, log->head))
        *at (log, log->head) = (struct replay_entry) {
          .len = end_room, .state = REPLAY_PAD,
        };
      log->used += end_room;
      log->head = 0;
    }
  }
  else if (need > log->tail - log->head)
    return NULL;

  e = at (log, log->head);
  *e = (struct replay_entry) {
    .len = need, .op = op, .state = REPLAY_RESERVED, .count = count,
    .flags = flags, .offset = offset,
  };
  log->head += need;
  if (log->head == log->size)
    log->head = 0;
  log->used += need;
  if (log->used > log->most)
    log->most = log->used;
  return e;
}

void
replay_log_complete (struct replay_log *log, struct replay_entry *e, bool ok)
{
  if (ok) {
    e->state = REPLAY_DONE;
    e->seq = ++log->done_seq;
  }
  else
    e->state = REPLAY_FAILED;
}

/* The length of the entry (or padding) at the tail. */
static size_t
tail_len (const struct replay_log *log)
{
  return short_end (log, log->tail) ? log->size - log->tail
                                    : at (log, log->tail)->len;
}

static bool
freeable (const struct replay_log *log, uint64_t mark)
{
  const struct replay_entry *e;

  if (short_end (log, log->tail))
    return true;
  e = at (log, log->tail);
  return e->state == REPLAY_PAD || e->state == REPLAY_FAILED ||
    (e->state == REPLAY_DONE && e->seq <= mark);
}

size_t
replay_log_covered (struct replay_log *log, uint64_t mark)
{
  size_t freed = 0;

  while (log->used > 0 && freeable (log, mark)) {
    size_t len = tail_len (log);

    log->tail += len;
    if (log->tail == log->size)
      log->tail = 0;
    log->used -= len;
    freed += len;
  }
  return freed;
}

void
replay_log_forget (struct replay_log *log)
{
  struct replay_walk w;
  struct replay_entry *e;

  replay_log_walk_start (log, &w);
  while ((e = replay_log_next (log, &w)) != NULL)
    if (e->state == REPLAY_DONE)
      e->state = REPLAY_FAILED;
  replay_log_covered (log, 0);
}

void
replay_log_walk_start (const struct replay_log *log, struct replay_walk *w)
{
  w->pos = log->tail;
  w->left = log->used;
}

struct replay_entry *
replay_log_next (const struct replay_log *log, struct replay_walk *w)
{
  while (w->left > 0) {
    struct replay_entry *e = short_end (log, w->pos) ? NULL : at (log, w->pos);
    size_t len = e ? e->len : log->size - w->pos;

    w->pos += len;
    if (w->pos == log->size)
      w->pos = 0;
    w->left -= len;
    if (e && e->state != REPLAY_PAD)
      return e;
  }
  return NULL;
}
