/* nbdkit-multicopy filter: opening, priming and closing the contexts. */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include <nbdkit-filter.h>

#include "contexts.h"
#include "params.h"
#include "stripe.h"

int
contexts_open (struct contexts *cs, nbdkit_context *context, unsigned nr,
               int readonly, const char *exportname)
{
  nbdkit_backend *backend = nbdkit_context_get_backend (context);
  unsigned i;

  cs->nr = 1;                   /* ctx[0] is set in .prepare */
  for (i = 1; i < nr; ++i) {
    cs->ctx[i] = nbdkit_next_context_open (backend, readonly, exportname, 1);
    if (cs->ctx[i] == NULL) {
      nbdkit_error ("multicopy: cannot open backend context %u of %u",
                    i + 1, nr);
      contexts_close (cs);
      return -1;
    }
    cs->nr++;
  }
  return 0;
}

static int
min_int (int a, int b)
{
  return a < b ? a : b;
}

/* The answers of one context, merged into cs (i == 0 sets them). */
static int
ask (struct contexts *cs, unsigned i)
{
  nbdkit_next *c = cs->ctx[i];
  uint32_t min, pref, max;
  int64_t size = c->get_size (c);
  int w = c->can_write (c), f = c->can_flush (c), rot = c->is_rotational (c);
  int t = c->can_trim (c), z = c->can_zero (c), fz = c->can_fast_zero (c);
  int e = c->can_extents (c), fua = c->can_fua (c);
  int mc = c->can_multi_conn (c), cache = c->can_cache (c);

  if (size == -1 || w == -1 || f == -1 || rot == -1 || t == -1 || z == -1 ||
      fz == -1 || e == -1 || fua == -1 || mc == -1 || cache == -1 ||
      c->block_size (c, &min, &pref, &max) == -1)
    return -1;

  if (i == 0) {
    cs->size = size;
    cs->can_write = w; cs->can_flush = f; cs->is_rotational = rot;
    cs->can_trim = t; cs->can_zero = z; cs->can_fast_zero = fz;
    cs->can_extents = e; cs->can_fua = fua; cs->can_multi_conn = mc;
    cs->can_cache = cache;
    cs->block_min = min; cs->block_pref = pref; cs->block_max = max;
    return 0;
  }

  if (size != cs->size) {
    nbdkit_error ("multicopy: backend context %u reports size %" PRIi64
                  ", context 1 reports %" PRIi64, i + 1, size, cs->size);
    return -1;
  }
  cs->can_write = min_int (cs->can_write, w);
  cs->can_flush = min_int (cs->can_flush, f);
  cs->is_rotational |= rot;
  cs->can_trim = min_int (cs->can_trim, t);
  cs->can_zero = min_int (cs->can_zero, z);
  cs->can_fast_zero = min_int (cs->can_fast_zero, fz);
  cs->can_extents = min_int (cs->can_extents, e);
  cs->can_fua = min_int (cs->can_fua, fua);
  cs->can_multi_conn = min_int (cs->can_multi_conn, mc);
  cs->can_cache = min_int (cs->can_cache, cache);
  if (min > cs->block_min)
    cs->block_min = min;
  if (pref > cs->block_pref)
    cs->block_pref = pref;
  if (max && (cs->block_max == 0 || max < cs->block_max))
    cs->block_max = max;
  return 0;
}

int
contexts_prepare (struct contexts *cs, nbdkit_next *first,
                  uint64_t segment_size)
{
  unsigned i;

  cs->ctx[0] = first;
  for (i = 1; i < cs->nr; ++i) {
    if (cs->ctx[i]->prepare (cs->ctx[i]) == -1)
      return -1;
    cs->prepared[i] = true;
  }
  for (i = 0; i < cs->nr; ++i)
    if (ask (cs, i) == -1)
      return -1;

  if (multicopy_check_block_size (segment_size, cs->block_min,
                                  cs->block_pref, "plugin") == -1)
    return -1;
  /* Plugins such as nbd do not split for an upstream limit. */
  cs->max_piece = cs->block_max == 0xffffffff ? 0 : cs->block_max;
  stripe_map_init (&cs->map, segment_size, cs->nr);
  return 0;
}

int
contexts_finalize (struct contexts *cs)
{
  unsigned i;
  int r = 0;

  for (i = 1; i < cs->nr; ++i) {
    if (cs->prepared[i] && cs->ctx[i]->finalize (cs->ctx[i]) == -1)
      r = -1;
    cs->prepared[i] = false;
  }
  return r;
}

void
contexts_close (struct contexts *cs)
{
  unsigned i;

  contexts_finalize (cs);       /* if .prepare failed half way */
  for (i = 1; i < cs->nr; ++i)
    nbdkit_next_context_close (cs->ctx[i]);
  cs->nr = 1;
}
