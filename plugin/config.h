/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: the parameters that say where the upstream
 * is and how to reach it.
 */

#ifndef MULTICOPY_CONFIG_H
#define MULTICOPY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

/* One upstream server: exactly one of these. */
struct upstream_server {
  const char *uri;
  char *socket;
  const char *hostname;
  bool vsock;
  uint32_t cid;
  char *name;                   /* for messages: "uri=...", "socket=..." */
};

#define MULTICOPY_SERVERS_MAX 64

struct upstream_config {
  /* Several servers of one storage: connection i goes to server
   * i mod nr_servers.
   */
  struct upstream_server servers[MULTICOPY_SERVERS_MAX];
  unsigned nr_servers;
  const char *port;             /* with hostname or vsock */
  uint32_t vsock_port;          /* with vsock */
  const char *export;           /* NULL: "" (or the uri's export) */

  int tls;                      /* -1 unset, else LIBNBD_TLS_* */
  char *tls_certificates;
  int tls_verify;               /* -1 unset, else bool */
  const char *tls_username;
  char *tls_psk;

  unsigned connections;
  bool connections_given;       /* else fewer may be kept (stripe-choice.h) */
  uint64_t segment_size;
  bool segment_size_given;      /* else chosen at startup (stripe-choice.h) */
  unsigned max_in_flight;       /* pieces over all connections, 0: adapt */
  unsigned connect_timeout_ms;  /* one deadline for a round of handshakes */
  unsigned retry_ms;            /* at startup: how long to keep trying */
  unsigned reconnect_timeout_ms; /* how long requests wait for a reconnect */
  unsigned shutdown_timeout_ms; /* at exit: for the flush, for late replies */
  uint64_t replay_buffer;       /* bytes for all the replay logs, 0: off */
  bool replay_buffer_given;
  uint64_t socket_buffer;       /* asked of the kernel per socket, 0: its own */
  int reply_threads;            /* reply-reader.h; 0: none, or ..._AUTO */
};

extern struct upstream_config config;

#define MULTICOPY_CONNECT_TIMEOUT_DEFAULT_MS 10000
#define MULTICOPY_RETRY_DEFAULT_MS 10000
#define MULTICOPY_RECONNECT_TIMEOUT_DEFAULT_MS 60000
#define MULTICOPY_SHUTDOWN_TIMEOUT_DEFAULT_MS 5000
/* All the replay logs together: see replay.h and the man page. */
#define MULTICOPY_REPLAY_BUFFER_DEFAULT (UINT64_C (256) << 20)
#define MULTICOPY_REPLAY_BUFFER_MAX (UINT64_C (64) << 30)
/* make bench measured less CPU in the proxy with 4M than with the
 * system's default (one send per request, fewer wake-ups).
 */
#define MULTICOPY_SOCKET_BUFFER_DEFAULT (UINT64_C (4) << 20)
#define MULTICOPY_SOCKET_BUFFER_MAX (UINT64_C (1) << 30)
/* reply-threads=auto: one for two processors, at most one per
 * connection (reply-reader.c says why).
 */
#define MULTICOPY_REPLY_THREADS_AUTO (-1)
#define MULTICOPY_REPLY_THREADS_MAX 64

/* Server s of config, and "server S (NAME)" for messages when there
 * are several, "the upstream" when there is one.
 */
extern const char *config_server_label (unsigned s);

/* "upstream connection I", and " to server S (NAME)" when there are
 * several, in buf: how messages name one connection.
 */
extern const char *config_connection_name (char *buf, size_t len,
                                           unsigned i, unsigned s);

extern int config_key (const char *key, const char *value);
extern int config_finish (void);
extern void config_free (void);

#define config_help_text \
  "[uri=]<URI>          Upstream NBD URI (nbd://, nbd+unix://, nbds://...).\n" \
  "                     uri=, socket=, hostname= and vsock= may be given\n" \
  "                     several times: servers of one storage.\n" \
  "socket=<PATH>        Upstream Unix socket, instead of uri.\n" \
  "hostname=<HOST>      Upstream TCP host, instead of uri.\n" \
  "vsock=<CID>          Upstream AF_VSOCK context ID, instead of uri.\n" \
  "port=<PORT>          Port with hostname or vsock (default 10809).\n" \
  "export=<NAME>        Export name with socket or hostname (default \"\").\n" \
  "connect-timeout=<S>  Seconds that all the handshakes of one attempt\n" \
  "                     may take together (default 10).\n" \
  "retry=<S>            Seconds to keep trying to reach the upstream at\n" \
  "                     startup (default 10, 0: fail at once).\n" \
  "reconnect-timeout=<S>  Seconds requests wait for a lost connection to\n" \
  "                     come back (default 60, 0: fail at once).\n" \
  "shutdown-timeout=<S> Seconds that exit waits for the upstream: for\n" \
  "                     replies, and for the final flush (default 5).\n" \
  "replay-buffer=<SIZE> Memory for writes no flush has covered yet, to\n" \
  "                     send again after a reconnect (default 256M,\n" \
  "                     0: off).\n" \
  "socket-buffer=<SIZE> Send and receive buffer asked of the kernel for\n" \
  "                     each upstream socket (default 4M, 0: the\n" \
  "                     system's).\n" \
  "reply-threads=<N>|auto  Threads that read the replies of every\n" \
  "                     connection (default auto: one for two processors;\n" \
  "                     0: each connection's own thread).\n" \
  "stats=<FILE>         Write what each upstream connection carried\n" \
  "                     to FILE, every second of a copy and at exit.\n" \
  "stats-format=text|prometheus  The file's format (default text).\n" \
  "tls=off|on|require   TLS toward the upstream.\n" \
  "tls-certificates=<DIR>  Directory of x509 certificates.\n" \
  "tls-verify=<BOOL>    Verify the upstream's certificate (default true).\n" \
  "tls-username=<NAME>  Username for TLS.\n" \
  "tls-psk=<FILE>       File of TLS pre-shared keys.\n"

#endif /* MULTICOPY_CONFIG_H */
