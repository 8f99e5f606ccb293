/* nbdkit-multicopy: parsing connections= and segment-size=. */

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

/* Only the helpers of nbdkit-common.h are used here; the plugin and
 * the filter both get them from the server at run time.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

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

int
multicopy_parse_connections (const char *value, unsigned *connections)
{
  unsigned n;

  if (nbdkit_parse_unsigned ("connections", value, &n) == -1 ||
      n < 1 || n > MULTICOPY_CONNECTIONS_MAX) {
    nbdkit_error ("connections=%s: must be between 1 and %d",
                  value, MULTICOPY_CONNECTIONS_MAX);
    return -1;
  }
  *connections = n;
  return 0;
}

int
multicopy_parse_segment_size (const char *value, uint64_t *segment_size)
{
  int64_t n = nbdkit_parse_size (value);

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
