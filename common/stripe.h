/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: segment ownership and request splitting.
 *
 * The disk is cut into stripes of segment_size bytes.  Stripe i is
 * owned by connection (or backend context) i mod owners, and every
 * byte is read and written only through its owner.  A client request
 * is cut into pieces that never cross a stripe boundary and never
 * exceed a size limit; each piece then travels on its owner.
 *
 * Shared by the plugin and the filter.  Everything here is pure
 * arithmetic, so it is inline: it runs once per piece on the hot path.
 */

#ifndef MULTICOPY_STRIPE_H
#define MULTICOPY_STRIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stripe_map {
  uint64_t segment_size;        /* bytes per stripe, a power of 2 */
  unsigned shift;               /* log2 (segment_size) */
  unsigned owners;              /* number of connections, >= 1 */
};

/* A run of bytes carried by one owner in one request. */
struct stripe_piece {
  uint64_t offset;
  uint64_t count;
  unsigned owner;
};

/* Returns -1 if segment_size is not a power of 2 or owners is 0. */
extern int stripe_map_init (struct stripe_map *map,
                            uint64_t segment_size, unsigned owners);

static inline uint64_t
stripe_index (const struct stripe_map *map, uint64_t offset)
{
  return offset >> map->shift;
}

static inline unsigned
stripe_owner (const struct stripe_map *map, uint64_t offset)
{
  return stripe_index (map, offset) % map->owners;
}

/* Bytes from offset to the end of the stripe holding it. */
static inline uint64_t
stripe_room (const struct stripe_map *map, uint64_t offset)
{
  return map->segment_size - (offset & (map->segment_size - 1));
}

/* Cut the next piece off the front of [*offset, *offset + *remaining).
 * The piece ends at the stripe boundary or after max bytes (0 means
 * no limit), whichever comes first.  Advances *offset and *remaining.
 * Returns false, leaving *piece alone, when nothing remains.
 */
static inline bool
stripe_next_piece (const struct stripe_map *map,
                   uint64_t *offset, uint64_t *remaining, uint64_t max,
                   struct stripe_piece *piece)
{
  uint64_t n;

  if (*remaining == 0)
    return false;

  n = stripe_room (map, *offset);
  if (n > *remaining)
    n = *remaining;
  if (max && n > max)
    n = max;

  piece->offset = *offset;
  piece->count = n;
  piece->owner = stripe_owner (map, *offset);
  *offset += n;
  *remaining -= n;
  return true;
}

/* The piece of a request at offset (count > 0) that the owner of
 * offset carries: up to the end of its stripe.  Block status asks only
 * this owner, since past its stripe another owner holds the data, and
 * nbdkit accepts fewer extents than asked for.
 */
static inline struct stripe_piece
stripe_first_piece (const struct stripe_map *map, uint64_t offset,
                    uint64_t count)
{
  struct stripe_piece piece = { .offset = offset, .count = 0 };

  stripe_next_piece (map, &offset, &count, 0, &piece);
  return piece;
}

/* Where a piece's bytes sit in the buffer of the request that began at
 * request_offset; NULL for requests without data.
 */
static inline void *
stripe_piece_buf (void *buf, uint64_t request_offset,
                  const struct stripe_piece *piece)
{
  return buf ? (char *) buf + (piece->offset - request_offset) : NULL;
}

#endif /* MULTICOPY_STRIPE_H */
