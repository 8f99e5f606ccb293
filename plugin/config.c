/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: parsing and checking the parameters. */

/* asprintf */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "log.h"
#include "config.h"
#include "params.h"
#include "stats.h"

struct upstream_config config = {
  .tls = -1,
  .tls_verify = -1,
  .connections = MULTICOPY_CONNECTIONS_DEFAULT,
  .segment_size = MULTICOPY_SEGMENT_SIZE_DEFAULT,
  .connect_timeout_ms = MULTICOPY_CONNECT_TIMEOUT_DEFAULT_MS,
  .retry_ms = MULTICOPY_RETRY_DEFAULT_MS,
  .reconnect_timeout_ms = MULTICOPY_RECONNECT_TIMEOUT_DEFAULT_MS,
  .shutdown_timeout_ms = MULTICOPY_SHUTDOWN_TIMEOUT_DEFAULT_MS,
  .replay_buffer = MULTICOPY_REPLAY_BUFFER_DEFAULT,
  .socket_buffer = MULTICOPY_SOCKET_BUFFER_DEFAULT,
  .reply_threads = MULTICOPY_REPLY_THREADS_AUTO,
  .vsock_port = 10809,
};

/* -D multicopy.sockbuf=KiB was socket-buffer= until 0.2.0 (-1: not
 * given).
 */
NBDKIT_DLL_PUBLIC int multicopy_debug_sockbuf = -1;

/* For the checks that need to see every key first. */
static bool socket_buffer_given;
static const char *first_tls_key; /* the first tls-* key given */
static const char *retry_value;   /* retry=, as given */
static bool reconnect_timeout_given;

static int
parse_tls (const char *value)
{
  int r;

  if (strcasecmp (value, "require") == 0 ||
      strcasecmp (value, "required") == 0 ||
      strcasecmp (value, "force") == 0)
    return LIBNBD_TLS_REQUIRE;
  if (multicopy_parse_bool ("tls", value, "off, on or require", &r) == -1)
    return -1;
  return r ? LIBNBD_TLS_ALLOW : LIBNBD_TLS_DISABLE;
}

/* Seconds, possibly fractional: "10", "0.5"; zero only if allowed. */
static int
parse_seconds (const char *key, const char *value, bool zero_ok,
               unsigned *ms)
{
  char *end;
  double s;

  errno = 0;
  s = strtod (value, &end);
  if (errno || end == value || *end != '\0' || !isfinite (s) ||
      s < 0 || (s == 0 && !zero_ok) || s > 86400) {
    nbdkit_error ("%s=%s: expecting seconds, %s and at most 86400",
                  key, value, zero_ok ? "0 or more" : "more than 0");
    return -1;
  }
  *ms = (unsigned) (s * 1000 + 0.5);
  if (*ms == 0 && s > 0)
    *ms = 1;
  return 0;
}

static int
absolute_path (const char *key, const char *value, char **path)
{
  *path = nbdkit_absolute_path (value);
  if (*path == NULL) {
    nbdkit_error ("%s=%s: cannot make the path absolute", key, value);
    return -1;
  }
  return 0;
}

/* TLS files are read at each connect, long after startup: check them
 * now, while the user is watching.
 */
static int
tls_file (const char *key, const char *value, char **path, bool directory)
{
  struct stat st;

  if (absolute_path (key, value, path) == -1)
    return -1;
  if (stat (*path, &st) == -1 ||
      (!directory && access (*path, R_OK) == -1)) {
    nbdkit_error ("%s=%s: %m", key, value);
    return -1;
  }
  if (directory != !!S_ISDIR (st.st_mode)) {
    nbdkit_error ("%s=%s: %s", key, value,
                  directory ? "not a directory" : "is a directory");
    return -1;
  }
  return 0;
}

/* A TCP port is a number from 1 to 65535, or a service name. */
static int
check_tcp_port (const char *value)
{
  uint32_t n;

  if (strspn (value, "0123456789") != strlen (value))
    return 0;                   /* a name: getaddrinfo will say */
  if (strlen (value) > 5 || multicopy_parse_u32 ("port", value, &n) == -1 ||
      n == 0 || n > 65535) {
    nbdkit_error ("port=%s: expecting a TCP port from 1 to 65535 (or a "
                  "service name)", value);
    return -1;
  }
  return 0;
}

static int
add_server (const char *key, const char *value)
{
  struct upstream_server *s = &config.servers[config.nr_servers];

  if (config.nr_servers == MULTICOPY_SERVERS_MAX) {
    nbdkit_error ("%s=%s: at most %d servers", key, value,
                  MULTICOPY_SERVERS_MAX);
    return -1;
  }
  if (strcmp (key, "uri") == 0)
    s->uri = value;
  else if (strcmp (key, "socket") == 0) {
    if (absolute_path (key, value, &s->socket) == -1)
      return -1;
  }
  else if (strcmp (key, "hostname") == 0)
    s->hostname = value;
  else {
    if (multicopy_parse_u32 (key, value, &s->cid) == -1)
      return -1;
    s->vsock = true;
  }
  if (asprintf (&s->name, "%s=%s", key, value) == -1) {
    nbdkit_error ("asprintf: %m");
    return -1;
  }
  config.nr_servers++;
  return 0;
}

const char *
config_server_label (unsigned s)
{
  static __thread char label[512];

  if (config.nr_servers == 1)
    return "the upstream";
  snprintf (label, sizeof label, "server %u (%s)", s, config.servers[s].name);
  return label;
}

const char *
config_connection_name (char *buf, size_t len, unsigned i, unsigned s)
{
  if (config.nr_servers == 1)
    snprintf (buf, len, "upstream connection %u", i);
  else
    snprintf (buf, len, "upstream connection %u to server %u (%s)", i, s,
              config.servers[s].name);
  return buf;
}

static int
parse_reply_threads (const char *value)
{
  uint32_t n;

  if (strcasecmp (value, "auto") == 0) {
    config.reply_threads = MULTICOPY_REPLY_THREADS_AUTO;
    return 0;
  }
  if (strspn (value, "0123456789") != strlen (value) || strlen (value) > 5 ||
      multicopy_parse_u32 ("reply-threads", value, &n) == -1 ||
      n > MULTICOPY_REPLY_THREADS_MAX) {
    nbdkit_error ("reply-threads=%s: expecting auto or a number from 0 to %d",
                  value, MULTICOPY_REPLY_THREADS_MAX);
    return -1;
  }
  config.reply_threads = n;
  return 0;
}

static int
unknown_key (const char *key)
{
  nbdkit_error ("unknown parameter '%s' (see nbdkit multicopy --help)", key);
  return -1;
}

/* tls=, and the tls-* keys that go with it. */
static int
tls_key (const char *key, const char *value)
{
  int r;

  if (strncmp (key, "tls-", 4) == 0 && first_tls_key == NULL)
    first_tls_key = key;
  if (strcmp (key, "tls") == 0) {
    if ((r = parse_tls (value)) == -1)
      return -1;
    config.tls = r;
  }
  else if (strcmp (key, "tls-certificates") == 0)
    return tls_file (key, value, &config.tls_certificates, true);
  else if (strcmp (key, "tls-verify") == 0) {
    if (multicopy_parse_bool (key, value, "a boolean (on or off)", &r) == -1)
      return -1;
    config.tls_verify = r;
  }
  else if (strcmp (key, "tls-username") == 0)
    config.tls_username = value;
  else if (strcmp (key, "tls-psk") == 0)
    return tls_file (key, value, &config.tls_psk, false);
  else
    return unknown_key (key);
  return 0;
}

int
config_key (const char *key, const char *value)
{
  /* Each server is a uri=, socket=, hostname= or vsock=. */
  if (strcmp (key, "uri") == 0 || strcmp (key, "socket") == 0 ||
      strcmp (key, "hostname") == 0 || strcmp (key, "vsock") == 0)
    return add_server (key, value);
  if (strcmp (key, "stats") != 0 && strcmp (key, "stats-format") != 0 &&
      multicopy_param_once (key) == -1)
    return -1;
  if (strncmp (key, "tls", 3) == 0)
    return tls_key (key, value);

  if (strcmp (key, "port") == 0)
    config.port = value;
  else if (strcmp (key, "export") == 0)
    config.export = value;
  else if (strcmp (key, "connections") == 0) {
    config.connections_given = true;
    return multicopy_parse_connections (value, &config.connections);
  }
  else if (strcmp (key, "segment-size") == 0) {
    config.segment_size_given = true;
    return multicopy_parse_segment_size (value, &config.segment_size);
  }
  else if (strcmp (key, "max-in-flight") == 0)
    return multicopy_parse_max_in_flight (value, &config.max_in_flight);
  else if (strcmp (key, "connect-timeout") == 0)
    return parse_seconds (key, value, false, &config.connect_timeout_ms);
  else if (strcmp (key, "retry") == 0) {
    retry_value = value;
    return parse_seconds (key, value, true, &config.retry_ms);
  }
  else if (strcmp (key, "reconnect-timeout") == 0) {
    reconnect_timeout_given = true;
    return parse_seconds (key, value, true, &config.reconnect_timeout_ms);
  }
  else if (strcmp (key, "shutdown-timeout") == 0)
    return parse_seconds (key, value, false, &config.shutdown_timeout_ms);
  else if (strcmp (key, "replay-buffer") == 0) {
    config.replay_buffer_given = true;
    return multicopy_parse_size (key, value, MULTICOPY_REPLAY_BUFFER_MAX,
                                 &config.replay_buffer);
  }
  else if (strcmp (key, "socket-buffer") == 0) {
    socket_buffer_given = true;
    return multicopy_parse_size (key, value, MULTICOPY_SOCKET_BUFFER_MAX,
                                 &config.socket_buffer);
  }
  else if (strcmp (key, "reply-threads") == 0)
    return parse_reply_threads (value);
  else if (strcmp (key, "stats") == 0 || strcmp (key, "stats-format") == 0)
    return stats_config (key, value);
  else
    return unknown_key (key);
  return 0;
}

/* Which ways of reaching a server were given. */
struct server_kinds {
  bool uri, host, vsock;
};

static struct server_kinds
server_kinds (void)
{
  struct server_kinds k = { .uri = false };
  unsigned i;

  for (i = 0; i < config.nr_servers; ++i) {
    k.uri |= config.servers[i].uri != NULL;
    k.host |= config.servers[i].hostname != NULL;
    k.vsock |= config.servers[i].vsock;
  }
  return k;
}

/* The keys that name servers and how to reach them, together. */
static int
check_transport (struct server_kinds k)
{
  if (config.nr_servers == 0) {
    nbdkit_error ("one of uri=, socket=, hostname= or vsock= must be given");
    return -1;
  }
  if (config.connections < config.nr_servers) {
    nbdkit_error ("connections=%u is fewer than the %u servers: each "
                  "server needs a connection", config.connections,
                  config.nr_servers);
    return -1;
  }
  if (config.port && !k.host && !k.vsock) {
    nbdkit_error ("port= needs hostname= or vsock=");
    return -1;
  }
  if (k.vsock && config.port &&
      multicopy_parse_u32 ("port", config.port, &config.vsock_port) == -1)
    return -1;
  if (k.host && config.port && check_tcp_port (config.port) == -1)
    return -1;
  if (config.export && k.uri) {
    nbdkit_error ("export= cannot be used with uri=: "
                  "put the export name in the URI");
    return -1;
  }
  if (config.tls == LIBNBD_TLS_DISABLE && first_tls_key) {
    nbdkit_error ("%s= cannot be used with tls=off, which would ignore it",
                  first_tls_key);
    return -1;
  }
  if (config.tls == -1)
    config.tls = first_tls_key ? LIBNBD_TLS_ALLOW : LIBNBD_TLS_DISABLE;
  return 0;
}

/* What older releases took, kept working for one release, and said. */
static void
apply_deprecated (void)
{
  /* Until 0.2.0 retry= was how long requests wait for a lost
   * connection.
   */
  if (retry_value && !reconnect_timeout_given) {
    config.reconnect_timeout_ms = config.retry_ms;
    multicopy_warning ("retry=%s also sets reconnect-timeout=%s, as "
                       "retry= did before 0.2.0; in a later release it will "
                       "only bound the wait for the upstream at startup, as "
                       "in nbdkit-nbd-plugin: give reconnect-timeout= as "
                       "well", retry_value, retry_value);
  }
  if (multicopy_debug_sockbuf >= 0) {
    multicopy_warning ("-D multicopy.sockbuf is deprecated and goes away "
                       "in a later release: give socket-buffer=%dK",
                       multicopy_debug_sockbuf);
    if (!socket_buffer_given)
      config.socket_buffer = (uint64_t) multicopy_debug_sockbuf * 1024;
  }
}

/* Whether this libnbd was built with what the servers need. */
static int
check_libnbd (struct server_kinds k)
{
  struct nbd_handle *nbd = nbd_create ();
  bool uri_ok, tls_ok;

  if (nbd == NULL) {
    nbdkit_error ("%s", nbd_get_error ());
    return -1;
  }
  uri_ok = nbd_supports_uri (nbd) == 1;
  tls_ok = nbd_supports_tls (nbd) == 1;
  nbd_close (nbd);

  if (k.uri && !uri_ok) {
    nbdkit_error ("uri=: this libnbd was built without URI support");
    return -1;
  }
  if (config.tls != LIBNBD_TLS_DISABLE && !tls_ok) {
    nbdkit_error ("tls=: this libnbd was built without TLS support");
    return -1;
  }
  return 0;
}

int
config_finish (void)
{
  struct server_kinds k = server_kinds ();

  if (check_transport (k) == -1 || stats_config_complete () == -1)
    return -1;
  apply_deprecated ();
  return check_libnbd (k);
}

void
config_free (void)
{
  unsigned i;

  for (i = 0; i < config.nr_servers; ++i) {
    free (config.servers[i].socket);
    free (config.servers[i].name);
  }
  free (config.tls_certificates);
  free (config.tls_psk);
}
