/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* mc-stress: several client connections doing random, overlapping
 * reads, writes, zeroes, trims and flushes on one NBD export for a
 * bounded time, every read checked against a model of the disk.
 *
 *   mc-stress URI SECONDS THREADS [VERIFY-URI]
 *
 * Each thread has its own connection: the export must promise that
 * one connection sees another's writes (multi-conn), as multicopy's
 * plugin and filter both do.  The disk is a row of 4K blocks;
 * an operation locks the blocks it covers (in order, so no deadlock),
 * so that what a read must return is always defined while different
 * threads' ranges still overlap over time and run side by side on
 * different blocks.  A block's content is a pattern made from its
 * index and a version number; version 0 is zeros, and a trimmed block
 * may read back as anything until it is written again.
 *
 * At the end one flush, then the whole disk is read back and checked,
 * through URI and, if given, through VERIFY-URI (the upstream itself:
 * after the flush every write must be there).  Exits 0 if every check
 * passed, 1 on a mismatch or an unexpected error.
 */

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libnbd.h>

#define BLOCK 4096
#define MAX_BLOCKS_PER_OP 96    /* 384K: crosses several stripes */
#define TRIMMED UINT32_MAX      /* content undefined until rewritten */

static const char *uri;
static int64_t size;
static unsigned nblocks;
static uint32_t *version;       /* per block, under its lock */
static pthread_mutex_t *locks;
static atomic_uint next_version = 1;
static atomic_bool failed;
static double deadline;

enum { OP_READ, OP_WRITE, OP_WRITE_FUA, OP_ZERO, OP_TRIM, OP_FLUSH, NR_OPS };
static const char *op_name[NR_OPS] = {
  "read", "write", "write+fua", "zero", "trim", "flush",
};
static atomic_uint_fast64_t op_count[NR_OPS];

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
mix (uint64_t x)
{
  x += UINT64_C (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

static void
fill_block (char *buf, unsigned blk, uint32_t ver)
{
  uint64_t *w = (uint64_t *) buf;
  unsigned i;

  if (ver == 0) {
    memset (buf, 0, BLOCK);
    return;
  }
  for (i = 0; i < BLOCK / 8; ++i)
    w[i] = mix (((uint64_t) blk << 32 | ver) * 8191 + i);
}

/* Compare bytes [off, off+len) of the disk, read into buf, with the
 * model.  Caller holds the blocks' locks.
 */
static bool
check (const char *what, const char *buf, uint64_t off, uint64_t len)
{
  char expect[BLOCK];
  uint64_t pos = off;

  while (pos < off + len) {
    unsigned blk = pos / BLOCK;
    uint64_t in = pos % BLOCK;
    uint64_t n = BLOCK - in;

    if (n > off + len - pos)
      n = off + len - pos;
    if (version[blk] != TRIMMED) {
      fill_block (expect, blk, version[blk]);
      if (memcmp (buf + (pos - off), expect + in, n) != 0) {
        fprintf (stderr, "mc-stress: %s: block %u (version %" PRIu32
                 ") differs at offset %" PRIu64 "\n",
                 what, blk, version[blk], pos);
        return false;
      }
    }
    pos += n;
  }
  return true;
}

static void
fail_nbd (const char *what)
{
  fprintf (stderr, "mc-stress: %s: %s\n", what, nbd_get_error ());
  atomic_store (&failed, true);
}

static void
lock_range (unsigned first, unsigned n)
{
  for (unsigned i = first; i < first + n; ++i)
    pthread_mutex_lock (&locks[i]);
}

static void
unlock_range (unsigned first, unsigned n)
{
  for (unsigned i = first; i < first + n; ++i)
    pthread_mutex_unlock (&locks[i]);
}

static void *
worker (void *vp)
{
  unsigned seed = (unsigned) (uintptr_t) vp * 7919 + (unsigned) time (NULL);
  struct nbd_handle *nbd = nbd_create ();
  char *buf = malloc (MAX_BLOCKS_PER_OP * BLOCK);

  if (nbd == NULL || buf == NULL || nbd_connect_uri (nbd, uri) == -1) {
    fail_nbd ("connect");
    goto out;
  }

  while (now () < deadline && !atomic_load (&failed)) {
    int r = rand_r (&seed) % 100;
    int op = r < 30 ? OP_READ : r < 65 ? OP_WRITE : r < 72 ? OP_WRITE_FUA :
      r < 85 ? OP_ZERO : r < 92 ? OP_TRIM : OP_FLUSH;
    unsigned n = 1 + rand_r (&seed) % MAX_BLOCKS_PER_OP;
    unsigned first;
    uint64_t off, len;

    if (n > nblocks)
      n = nblocks;
    first = rand_r (&seed) % (nblocks - n + 1);
    off = (uint64_t) first * BLOCK;
    len = (uint64_t) n * BLOCK;

    if (op == OP_FLUSH) {
      if (nbd_flush (nbd, 0) == -1)
        fail_nbd ("flush");
      atomic_fetch_add (&op_count[op], 1);
      continue;
    }

    lock_range (first, n);
    switch (op) {
    case OP_READ: {
      /* Any byte range inside the locked blocks. */
      uint64_t skip = rand_r (&seed) % BLOCK;
      uint64_t rlen = len - skip - rand_r (&seed) % (len - skip);

      if (nbd_pread (nbd, buf, rlen, off + skip, 0) == -1)
        fail_nbd ("pread");
      else if (!check ("read", buf, off + skip, rlen))
        atomic_store (&failed, true);
      break;
    }
    case OP_WRITE:
    case OP_WRITE_FUA: {
      uint32_t v = atomic_fetch_add (&next_version, 1);

      for (unsigned i = 0; i < n; ++i)
        fill_block (buf + i * BLOCK, first + i, v);
      if (nbd_pwrite (nbd, buf, len, off,
                      op == OP_WRITE_FUA ? LIBNBD_CMD_FLAG_FUA : 0) == -1)
        fail_nbd ("pwrite");
      for (unsigned i = 0; i < n; ++i)
        version[first + i] = v;
      break;
    }
    case OP_ZERO:
      if (nbd_zero (nbd, len, off, 0) == -1)
        fail_nbd ("zero");
      for (unsigned i = 0; i < n; ++i)
        version[first + i] = 0;
      break;
    case OP_TRIM:
      if (nbd_trim (nbd, len, off, 0) == -1)
        fail_nbd ("trim");
      for (unsigned i = 0; i < n; ++i)
        version[first + i] = TRIMMED;
      break;
    }
    unlock_range (first, n);
    atomic_fetch_add (&op_count[op], 1);
  }

 out:
  if (nbd) {
    nbd_shutdown (nbd, 0);
    nbd_close (nbd);
  }
  free (buf);
  return NULL;
}

/* Read the whole disk through u and check it. */
static bool
verify_all (const char *u, bool flush_first)
{
  struct nbd_handle *nbd = nbd_create ();
  char *buf = malloc (MAX_BLOCKS_PER_OP * BLOCK);
  bool ok = true;

  if (nbd == NULL || buf == NULL || nbd_connect_uri (nbd, u) == -1 ||
      (flush_first && nbd_flush (nbd, 0) == -1)) {
    fprintf (stderr, "mc-stress: verify %s: %s\n", u, nbd_get_error ());
    ok = false;
    goto out;
  }
  for (uint64_t off = 0; off < (uint64_t) size && ok;
       off += MAX_BLOCKS_PER_OP * BLOCK) {
    uint64_t len = size - off;

    if (len > MAX_BLOCKS_PER_OP * BLOCK)
      len = MAX_BLOCKS_PER_OP * BLOCK;
    if (nbd_pread (nbd, buf, len, off, 0) == -1) {
      fprintf (stderr, "mc-stress: verify: %s\n", nbd_get_error ());
      ok = false;
    }
    else
      ok = check (flush_first ? "final read" : "upstream read", buf, off, len);
  }
 out:
  if (nbd) {
    nbd_shutdown (nbd, 0);
    nbd_close (nbd);
  }
  free (buf);
  return ok;
}

int
main (int argc, char *argv[])
{
  struct nbd_handle *nbd;
  unsigned threads, i;
  pthread_t *tids;
  double seconds;

  if (argc < 4 || argc > 5) {
    fprintf (stderr, "usage: mc-stress URI SECONDS THREADS [VERIFY-URI]\n");
    return 2;
  }
  uri = argv[1];
  seconds = atof (argv[2]);
  threads = atoi (argv[3]);
  if (seconds <= 0 || threads < 1 || threads > 64) {
    fprintf (stderr, "mc-stress: bad SECONDS or THREADS\n");
    return 2;
  }

  nbd = nbd_create ();
  if (nbd == NULL || nbd_connect_uri (nbd, uri) == -1 ||
      (size = nbd_get_size (nbd)) == -1) {
    fprintf (stderr, "mc-stress: %s: %s\n", uri, nbd_get_error ());
    return 1;
  }
  nbd_shutdown (nbd, 0);
  nbd_close (nbd);
  nblocks = size / BLOCK;
  size = (int64_t) nblocks * BLOCK;
  version = calloc (nblocks, sizeof *version);  /* the disk starts zeroed */
  locks = calloc (nblocks, sizeof *locks);
  tids = calloc (threads, sizeof *tids);
  if (!version || !locks || !tids || nblocks == 0) {
    fprintf (stderr, "mc-stress: out of memory or empty disk\n");
    return 1;
  }
  for (i = 0; i < nblocks; ++i)
    pthread_mutex_init (&locks[i], NULL);

  deadline = now () + seconds;
  for (i = 0; i < threads; ++i)
    pthread_create (&tids[i], NULL, worker, (void *) (uintptr_t) i);
  for (i = 0; i < threads; ++i)
    pthread_join (tids[i], NULL);

  if (!atomic_load (&failed) && !verify_all (uri, true))
    atomic_store (&failed, true);
  if (!atomic_load (&failed) && argc == 5 && !verify_all (argv[4], false))
    atomic_store (&failed, true);

  for (i = 0; i < nblocks; ++i)
    pthread_mutex_destroy (&locks[i]);
  free (locks);
  free (version);
  free (tids);

  printf ("mc-stress: %u threads, a connection each, %.0f s:", threads,
          seconds);
  for (i = 0; i < NR_OPS; ++i)
    printf (" %s %" PRIuFAST64, op_name[i], atomic_load (&op_count[i]));
  printf ("; %s\n", atomic_load (&failed) ? "FAILED" : "all reads matched");
  return atomic_load (&failed) ? 1 : 0;
}
