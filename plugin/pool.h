/* nbdkit-multicopy plugin: the one global pool of upstream
 * connections that every client connection shares.
 */

#ifndef MULTICOPY_POOL_H
#define MULTICOPY_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libnbd.h>

#include "stripe.h"

/* libnbd 1.14 refuses reads and writes over 64M and does not split for
 * servers that accept less; qemu accepts 32M.  Without an advertised
 * maximum, stay at the protocol's safe size.
 */
#define MULTICOPY_DEFAULT_MAX_PAYLOAD (UINT64_C (32) << 20)

/* One upstream NBD connection. */
struct upstream {
  /* The I/O thread replaces a dead handle with a new one.  Issuers
   * hold handle_lock for reading around each nbd_aio_* call; the I/O
   * thread, which alone changes nbd and fd, holds it for writing to
   * swap them.
   */
  pthread_rwlock_t handle_lock;
  struct nbd_handle *nbd;
  int fd;                       /* libnbd's socket */
  atomic_uint gen;              /* bumped at each reconnect */

  /* Whether the connection is up, and since when it is down; requests
   * that need it wait on up_cond.
   */
  pthread_mutex_t state_lock;
  pthread_cond_t up_cond;
  bool up;
  int64_t down_since_ms;

  unsigned index;
  int kick_fd;                  /* eventfd that wakes the I/O thread */
  pthread_t io_thread;
  bool io_thread_started;
  atomic_bool stopping;         /* pool_close: disconnect and exit */

  /* Writes that a client has seen acknowledged and no flush has
   * covered yet.  Set after a write completes, before the client is
   * told; cleared by the flush that covers it.
   */
  atomic_bool dirty;
  atomic_uint flushing;         /* flushes in flight here */

  /* Statistics, logged at exit. */
  atomic_uint_fast64_t requests;
  atomic_uint_fast64_t bytes;
  atomic_uint_fast64_t flushes;
  atomic_uint_fast64_t reconnects;
  atomic_uint_fast64_t losses;  /* times it may have lost such writes */
};

/* What every upstream connection can do (the AND over them all). */
struct upstream_caps {
  int64_t size;
  bool can_write, can_flush, can_fua, can_trim, can_zero, can_fast_zero;
  bool can_cache, can_extents, is_rotational, can_multi_conn;
  uint32_t block_min, block_pref, block_max; /* 0: not advertised */
  char *description;
};

struct pool {
  struct upstream *conn;
  unsigned nr;                  /* connections that came up */
  struct stripe_map map;        /* owners == nr */
  uint64_t max_payload;         /* largest read or write piece */
  uint64_t max_command;         /* largest zero/trim/cache piece, 0: any */
  struct upstream_caps caps;
};

extern struct pool pool;

/* pool.c: lifecycle. */
extern int pool_open (void);    /* .get_ready: connect, before serving */
extern int pool_start (void);   /* .after_fork: start the I/O threads */
extern void pool_close (void);  /* .cleanup: flush, disconnect, free */

/* pool.c: whether a new handle for connection i serves the same export
 * with everything the pool advertised (0), or not (-1, reported).
 */
extern int pool_check_reconnected (unsigned i, struct nbd_handle *nbd);

/* io-thread.c */
extern int io_thread_start (struct upstream *u);
extern void io_thread_stop (struct upstream *u);
extern void io_thread_kick (struct upstream *u);

/* reconnect.c: the I/O thread, on finding its handle dead, replaces
 * it; returns when it has or when the pool is stopping.
 */
extern void upstream_reconnect (struct upstream *u);

/* reconnect.c: a request that used connection u with generation gen
 * failed because u was lost.  Wait until u is back with a new handle
 * (true) or until the retry window has passed (false).
 */
extern bool upstream_wait_back (struct upstream *u, unsigned gen);

/* After issuing a command: the caller's nbd_aio_* call already sent
 * what the socket would take.  Only if bytes are left over does the
 * I/O thread, which may be asleep polling for replies only, need to
 * be woken to poll for POLLOUT too.
 */
static inline void
upstream_issued (struct upstream *u)
{
  if (nbd_aio_get_direction (u->nbd) & LIBNBD_AIO_DIRECTION_WRITE)
    io_thread_kick (u);
}

#endif /* MULTICOPY_POOL_H */
