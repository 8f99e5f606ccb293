/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: parsing connections=, segment-size= and
 * max-in-flight=.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Only the helpers of nbdkit-common.h are used here; the plugin and
 * the filter both get them from the server at run time.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "flow-limit.h"
#include "params.h"

/* nbdkit passes keys that point into argv, which outlives us. */
static const char *given[64];
static unsigned nr_given;

int
multicopy_param_once (const char *key)
{
  unsigned i;

  for (i = 0; i < nr_given; ++i) {
    if (strcmp (given[i], key) == 0) {
      nbdkit_error ("%s= is given twice: it takes one value", key);
      return -1;
    }
  }
  if (nr_given < sizeof given / sizeof given[0])
    given[nr_given++] = key;
  return 0;
}

/* Not nbdkit_parse_unsigned, nbdkit_parse_uint32_t and
 * nbdkit_parse_size: they report their own error, and a bad value
 * would get two lines.  Whether value is a decimal number up to max.
 */
static bool
decimal (const char *value, uint64_t max, uint64_t *r)
{
  char *end;
  unsigned long long n;

  errno = 0;
  n = strtoull (value, &end, 10);
  if (errno || end == value || *end != '\0' || value[0] == '-' || n > max)
    return false;
  *r = n;
  return true;
}

int
multicopy_parse_u32 (const char *key, const char *value, uint32_t *r)
{
  uint64_t n;

  if (!decimal (value, UINT32_MAX, &n)) {
    nbdkit_error ("%s=%s: expecting a number from 0 to %" PRIu32,
                  key, value, UINT32_MAX);
    return -1;
  }
  *r = n;
  return 0;
}

int
multicopy_parse_bool (const char *key, const char *value, const char *what,
                      int *r)
{
  static const char *const yes[] = { "1", "true", "t", "yes", "y", "on" };
  static const char *const no[] = { "0", "false", "f", "no", "n", "off" };
  size_t i;

  for (i = 0; i < sizeof yes / sizeof yes[0]; ++i) {
    if (strcasecmp (value, yes[i]) == 0) {
      *r = 1;
      return 0;
    }
    if (strcasecmp (value, no[i]) == 0) {
      *r = 0;
      return 0;
    }
  }
  nbdkit_error ("%s=%s: expecting %s", key, value, what);
  return -1;
}

int
multicopy_parse_connections (const char *value, unsigned *connections)
{
  uint64_t n;

  if (!decimal (value, MULTICOPY_CONNECTIONS_MAX, &n) || n < 1) {
    nbdkit_error ("connections=%s: must be between 1 and %d",
                  value, MULTICOPY_CONNECTIONS_MAX);
    return -1;
  }
  *connections = n;
  return 0;
}

/* Digits, then at most one of nbdkit's size suffixes. */
static bool
size_syntax (const char *value)
{
  size_t digits = strspn (value, "0123456789");

  return digits > 0 && digits < 19 &&
    (value[digits] == '\0' ||
     (strchr ("bBsSkKmMgGtTpPeE", value[digits]) && value[digits + 1] == '\0'));
}

int
multicopy_parse_size (const char *key, const char *value, uint64_t max,
                      uint64_t *r)
{
  int64_t n = size_syntax (value) ? nbdkit_parse_size (value) : -1;

  if (n == -1 || (uint64_t) n > max) {
    nbdkit_error ("%s=%s: expecting a size from 0 to %" PRIu64 "G (with a "
                  "suffix such as K, M or G)", key, value, max >> 30);
    return -1;
  }
  *r = n;
  return 0;
}

int
multicopy_parse_segment_size (const char *value, uint64_t *segment_size)
{
  int64_t n = size_syntax (value) ? nbdkit_parse_size (value) : -1;

  if (n == -1) {
    nbdkit_error ("segment-size=%s: cannot parse the size", value);
    return -1;
  }
  if ((uint64_t) n < MULTICOPY_SEGMENT_SIZE_MIN ||
      (uint64_t) n > MULTICOPY_SEGMENT_SIZE_MAX) {
    nbdkit_error ("segment-size=%s: must be between 512 and 1G", value);
    return -1;
  }
  if ((n & (n - 1)) != 0) {
    nbdkit_error ("segment-size=%s: must be a power of 2", value);
    return -1;
  }
  *segment_size = n;
  return 0;
}

int
multicopy_check_block_size (uint64_t segment_size,
                            uint32_t minimum, uint32_t preferred,
                            const char *below)
{
  if (minimum > 0 && segment_size % minimum != 0) {
    nbdkit_error ("segment-size=%" PRIu64 " is not a multiple of the "
                  "%s's minimum block size %" PRIu32,
                  segment_size, below, minimum);
    return -1;
  }
  if (preferred > 0 && segment_size < preferred)
    nbdkit_debug ("segment-size=%" PRIu64 " is smaller than the "
                  "%s's preferred block size %" PRIu32
                  ": requests will be split more than needed",
                  segment_size, below, preferred);
  return 0;
}

int
multicopy_parse_max_in_flight (const char *value, unsigned *max)
{
  uint64_t n;

  if (strcasecmp (value, "auto") == 0) {
    *max = 0;
    return 0;
  }
  if (!decimal (value, FLOW_MAX, &n) || n < 1) {
    nbdkit_error ("max-in-flight=%s: expecting auto or a number from 1 "
                  "to %d", value, FLOW_MAX);
    return -1;
  }
  *max = n;
  return 0;
}
