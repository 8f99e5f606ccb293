/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* Unit test of common/stripe.h: ownership and splitting.
 *
 * Exact cases at the edges, then randomized requests checked against
 * what every piece must satisfy: the pieces tile the request in order,
 * none crosses a stripe boundary or exceeds the limit, each is as long
 * as those rules allow, and its owner is its stripe index mod owners.
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "stripe.h"
#include "unit-check.h"

#define KiB (UINT64_C (1) << 10)
#define MiB (UINT64_C (1) << 20)
#define GiB (UINT64_C (1) << 30)

struct expect { uint64_t offset, count; unsigned owner; };

static void
expect_pieces (uint64_t seg, unsigned owners, uint64_t offset,
               uint64_t count, uint64_t max,
               const struct expect *want, size_t nwant)
{
  struct stripe_map map;
  struct stripe_piece p;
  uint64_t off = offset, rem = count;
  size_t n = 0;

  CHECK (stripe_map_init (&map, seg, owners) == 0, "seg=%" PRIu64, seg);
  while (stripe_next_piece (&map, &off, &rem, max, &p)) {
    if (n < nwant) {
      CHECK (p.offset == want[n].offset && p.count == want[n].count &&
             p.owner == want[n].owner,
             "piece %zu: got (%#" PRIx64 ", %#" PRIx64 ", %u) want "
             "(%#" PRIx64 ", %#" PRIx64 ", %u)", n, p.offset, p.count,
             p.owner, want[n].offset, want[n].count, want[n].owner);
    }
    n++;
  }
  CHECK (n == nwant, "got %zu pieces, want %zu", n, nwant);
}

static void
test_init (void)
{
  struct stripe_map map;

  CHECK (stripe_map_init (&map, 0, 4) == -1, "size 0");
  CHECK (stripe_map_init (&map, 3 * MiB, 4) == -1, "not a power of 2");
  CHECK (stripe_map_init (&map, 4 * MiB, 0) == -1, "no owners");
  CHECK (stripe_map_init (&map, 4 * MiB, 3) == 0, "4M, 3 owners");
  CHECK (map.shift == 22, "shift %u", map.shift);
  CHECK (stripe_map_init (&map, 512, 1) == 0 && map.shift == 9, "512");
  CHECK (stripe_map_init (&map, GiB, 64) == 0 && map.shift == 30, "1G");
}

static void
test_owner (void)
{
  struct stripe_map map;

  stripe_map_init (&map, MiB, 4);
  CHECK (stripe_owner (&map, 0) == 0, "0");
  CHECK (stripe_owner (&map, MiB - 1) == 0, "last byte of stripe 0");
  CHECK (stripe_owner (&map, MiB) == 1, "first byte of stripe 1");
  CHECK (stripe_owner (&map, 4 * MiB) == 0, "wraps at 4 stripes");
  CHECK (stripe_owner (&map, 7 * MiB + 5) == 3, "stripe 7");
  /* Beyond 32 bits of stripes: still mod owners of the stripe index. */
  CHECK (stripe_owner (&map, (UINT64_C (1) << 52) + 2 * MiB) == 2, "huge");

  stripe_map_init (&map, 4 * MiB, 3);  /* owners need not be 2^n */
  CHECK (stripe_owner (&map, 12 * MiB) == 0, "stripe 3 of 3 owners");
  CHECK (stripe_owner (&map, 20 * MiB) == 2, "stripe 5 of 3 owners");
}

static void
test_exact (void)
{
  /* Inside one stripe: one piece, untouched. */
  {
    const struct expect w[] = { { 4096, 8192, 0 } };
    expect_pieces (MiB, 4, 4096, 8192, 0, w, 1);
  }
  /* Ending exactly on a boundary: no empty piece after it. */
  {
    const struct expect w[] = { { MiB - 512, 512, 0 } };
    expect_pieces (MiB, 4, MiB - 512, 512, 0, w, 1);
  }
  /* Starting exactly on a boundary. */
  {
    const struct expect w[] = { { MiB, 512, 1 } };
    expect_pieces (MiB, 4, MiB, 512, 0, w, 1);
  }
  /* Straddling one boundary at an odd offset. */
  {
    const struct expect w[] = { { MiB - 77, 77, 0 }, { MiB, 46, 1 } };
    expect_pieces (MiB, 4, MiB - 77, 123, 0, w, 2);
  }
  /* A 2M write over two 1M stripes becomes two requests (see
   * segment-size= in nbdkit-multicopy.pod).
   */
  {
    const struct expect w[] = { { 0, MiB, 0 }, { MiB, MiB, 1 } };
    expect_pieces (MiB, 4, 0, 2 * MiB, 0, w, 2);
  }
  /* Spanning many stripes and wrapping round the owners. */
  {
    const struct expect w[] = {
      { MiB - 1, 1, 0 }, { MiB, MiB, 1 }, { 2 * MiB, MiB, 2 },
      { 3 * MiB, MiB, 0 }, { 4 * MiB, MiB, 1 }, { 5 * MiB, 1, 2 },
    };
    expect_pieces (MiB, 3, MiB - 1, 4 * MiB + 2, 0, w, 6);
  }
  /* One owner: pieces still stop at stripe boundaries (harmless). */
  {
    const struct expect w[] = { { 0, 4 * MiB, 0 }, { 4 * MiB, MiB, 0 } };
    expect_pieces (4 * MiB, 1, 0, 5 * MiB, 0, w, 2);
  }
  /* More than 32M in one stripe: cut at the payload limit. */
  {
    const struct expect w[] = {
      { 0, 32 * MiB, 0 }, { 32 * MiB, 32 * MiB, 0 }, { 64 * MiB, MiB, 0 },
    };
    expect_pieces (128 * MiB, 4, 0, 65 * MiB, 32 * MiB, w, 3);
  }
  /* The limit and the boundary together: the limit restarts after
   * every boundary, so no piece is needlessly short.
   */
  {
    const struct expect w[] = {
      { 120 * MiB, 8 * MiB, 0 }, { 128 * MiB, 32 * MiB, 1 },
      { 160 * MiB, 8 * MiB, 1 },
    };
    expect_pieces (128 * MiB, 2, 120 * MiB, 48 * MiB, 32 * MiB, w, 3);
  }
  /* The largest nbdkit request (4G - 1 zero) over 1G stripes. */
  {
    const struct expect w[] = {
      { 0, GiB, 0 }, { GiB, GiB, 1 }, { 2 * GiB, GiB, 2 },
      { 3 * GiB, GiB - 1, 3 },
    };
    expect_pieces (GiB, 4, 0, 4 * GiB - 1, 0, w, 4);
  }
  /* Nothing to cut. */
  expect_pieces (MiB, 4, 12345, 0, 0, NULL, 0);
}

/* Near the end of a disk whose size is not a multiple of the stripe:
 * the math does not know the size, so the last partial stripe is just
 * a stripe that the request ends inside.
 */
static void
test_disk_tail (void)
{
  const uint64_t size = 10 * MiB + 4096;
  const struct expect w[] = { { 8 * MiB, 2 * MiB, 0 }, { 10 * MiB, 4096, 1 } };

  expect_pieces (2 * MiB, 4, 8 * MiB, size - 8 * MiB, 0, w, 2);
}

static uint64_t
rnd (void)
{
  return ((uint64_t) random () << 33) ^ ((uint64_t) random () << 11) ^
    (uint64_t) random ();
}

static void
test_random (void)
{
  unsigned iter;

  srandom (42);
  for (iter = 0; iter < 200000; ++iter) {
    struct stripe_map map;
    struct stripe_piece p;
    uint64_t seg = UINT64_C (512) << (random () % 22);  /* 512 .. 1G */
    unsigned owners = 1 + random () % 64;
    uint64_t max = (random () % 3) ? 0 : (UINT64_C (512) << (random () % 17));
    uint64_t offset = rnd () % (UINT64_C (1) << 44);
    /* Up to 4G, but at most ~500 pieces, to keep the run short. */
    uint64_t unit = max && max < seg ? max : seg;
    uint64_t limit = (random () % 4) ? 64 * MiB : UINT64_C (1) << 32;
    uint64_t count = rnd () % (limit < unit * 500 ? limit : unit * 500);
    uint64_t off = offset, rem = count, next = offset;
    unsigned pieces = 0;

    stripe_map_init (&map, seg, owners);
    while (stripe_next_piece (&map, &off, &rem, max, &p)) {
      uint64_t room = seg - p.offset % seg;
      uint64_t left = offset + count - p.offset;
      uint64_t longest = room < left ? room : left;

      if (max && max < longest)
        longest = max;
      pieces++;
      CHECK (p.offset == next, "gap at %#" PRIx64, p.offset);
      CHECK (p.count > 0, "empty piece");
      CHECK (p.offset / seg == (p.offset + p.count - 1) / seg,
             "piece %#" PRIx64 "+%#" PRIx64 " crosses a stripe of %#"
             PRIx64, p.offset, p.count, seg);
      CHECK (p.count == longest, "piece shorter than allowed");
      CHECK (p.owner == (p.offset / seg) % owners, "wrong owner");
      CHECK (off == p.offset + p.count && rem == offset + count - off,
             "cursor");
      next = p.offset + p.count;
      if (failures > 20)
        return;
    }
    CHECK (next == offset + count, "pieces do not reach the end");
    CHECK (count > 0 || pieces == 0, "pieces for an empty request");
  }
}

int
main (void)
{
  test_init ();
  test_owner ();
  test_exact ();
  test_disk_tail ();
  test_random ();
  if (failures) {
    fprintf (stderr, "test-stripe: %u failures\n", failures);
    return 1;
  }
  printf ("test-stripe: all cases passed\n");
  return 0;
}
