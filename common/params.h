/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the parameters that plugin and filter share,
 * connections=, segment-size= and max-in-flight=, with one set of
 * defaults, limits and error messages.
 */

#ifndef MULTICOPY_PARAMS_H
#define MULTICOPY_PARAMS_H

#include <stdint.h>

/* Both defaults come from make bench's matrix (docs/benchmarks.md):
 * the fastest cell for qemu-img -m 8, -m 16 and nbdcopy alike over a
 * slow upstream, and no dearer than the nbd plugin when CPU-bound.
 */
#define MULTICOPY_CONNECTIONS_DEFAULT 16
#define MULTICOPY_CONNECTIONS_MAX     64

#define MULTICOPY_SEGMENT_SIZE_DEFAULT (UINT64_C (2) << 20)
#define MULTICOPY_SEGMENT_SIZE_MIN     UINT64_C (512)
#define MULTICOPY_SEGMENT_SIZE_MAX     (UINT64_C (1) << 30)

/* One --help text each: the plugin's are upstream connections, the
 * filter's are contexts of the plugin below.
 */
#define MULTICOPY_SEGMENT_SIZE_HELP \
  "segment-size=<SIZE>  Stripe size, a power of 2 from 512 to 1G\n" \
  "                     (default 2M)."
#define MULTICOPY_MAX_IN_FLIGHT_HELP \
  "                     auto follows their round trips (default); N is\n" \
  "                     a fixed limit, 1..65536."
#define MULTICOPY_PLUGIN_PARAMS_HELP \
  "connections=<N>      Upstream connections, 1..64 (default 16).\n" \
  MULTICOPY_SEGMENT_SIZE_HELP "\n" \
  "max-in-flight=auto|<N>  Pieces in flight upstream, over all connections:\n" \
  MULTICOPY_MAX_IN_FLIGHT_HELP
#define MULTICOPY_FILTER_PARAMS_HELP \
  "connections=<N>      Contexts of the plugin below, shared by every\n" \
  "                     client, 1..64 (default 16).\n" \
  MULTICOPY_SEGMENT_SIZE_HELP "\n" \
  "max-in-flight=auto|<N>  Pieces in flight below, over all contexts:\n" \
  MULTICOPY_MAX_IN_FLIGHT_HELP

/* A key that takes one value: 0 the first time it is given, -1 (with
 * an error naming it) the second.
 */
extern int multicopy_param_once (const char *key);

/* Each returns 0, or -1 after an nbdkit_error that names the key. */
extern int multicopy_parse_u32 (const char *key, const char *value,
                                uint32_t *r);
extern int multicopy_parse_connections (const char *value,
                                        unsigned *connections);
extern int multicopy_parse_segment_size (const char *value,
                                         uint64_t *segment_size);
/* 1/0 as nbdkit_parse_bool reads them (on, off, yes, no, true,
 * false, 1, 0...), but with one error line for a bad value, saying
 * that what was expected.
 */
extern int multicopy_parse_bool (const char *key, const char *value,
                                 const char *what, int *r);
/* A size, with nbdkit's suffixes (K, M, G...), from 0 to max. */
extern int multicopy_parse_size (const char *key, const char *value,
                                 uint64_t max, uint64_t *r);
/* auto gives 0. */
extern int multicopy_parse_max_in_flight (const char *value,
                                          unsigned *max);

/* Stripe boundaries split requests, so they must fall on the
 * upstream's block boundaries: segment-size must be a multiple of
 * the minimum block size.  A stripe smaller than the preferred block
 * size only costs speed, so that gets a debug message.  below names
 * what advertised them in messages: "upstream" or "plugin".
 */
extern int multicopy_check_block_size (uint64_t segment_size,
                                       uint32_t minimum, uint32_t preferred,
                                       const char *below);

#endif /* MULTICOPY_PARAMS_H */
