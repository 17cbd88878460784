/*
 * Gatehouse's optional zero-copy relay (Linux): moves a known number of bytes from one TCP
 * socket to another through a pipe with splice(2), so the bytes of a response that is cut
 * through never enter the process. Without it each byte is copied twice by the kernel (into a
 * read buffer and out again); with it the kernel hands on page references.
 *
 * It runs on Node's own event loop: the two sockets' file descriptors are duplicated and watched
 * with uv_poll, so no thread is involved and Node's handles for the sockets are left alone (the
 * caller stops reading the source socket and has nothing pending on the target while a transfer
 * runs). The JavaScript side is src/proxy/zero-copy.ts; build with scripts/build-native.mjs.
 *
 * A transfer of a records field (record batches v2) also captures each batch's 61-byte header
 * on the way: at a batch boundary the header is read into the process (it holds the batch's
 * offsets, for audit), kept, and written into the pipe in its place, so the order of the bytes
 * is kept; the batch's body is spliced like any other bytes.
 *
 *   start(fromFd, toFd, length, callback) -> transfer   callback(errno, bytesWritten, side), once;
 *                                                       side 0: the error was the source's, 1: the target's
 *   startRecords(fromFd, toFd, length, firstBoundary, callback) -> transfer
 *                                                       callback(errno, bytesWritten, side, headers, invalidAt):
 *                                                       headers the captured ones, end to end (a Buffer);
 *                                                       invalidAt where a batch with a length below the
 *                                                       minimum starts (capture stopped there), else -1
 *   cancel(transfer)                                     no callback after it
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define HEADER 61 /* a record batch's header: baseOffset .. recordCount; less than PIPE_BUF */

typedef struct transfer {
  napi_env env;
  napi_ref callback;
  napi_ref resource;
  int from, to, pipe_r, pipe_w;
  int64_t to_read, in_pipe, written, total;
  int64_t pipe_cap;
  uv_poll_t from_poll, to_poll;
  int from_events, to_events;
  int closing, open_handles, error, side, notify;
  /* Records transfers only. `next` is where the next header starts (from the transfer's first
     byte); `head` holds the bytes of it read so far, all HEADER of them until they are in the pipe. */
  int records, capture;
  int64_t next, invalid_at;
  unsigned char head[HEADER];
  int head_len;
  unsigned char *headers;
  size_t headers_len, headers_cap;
} transfer_t;

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) return NULL;                                                            \
  } while (0)

static void release(transfer_t *t) {
  if (t->pipe_r >= 0) close(t->pipe_r);
  if (t->pipe_w >= 0) close(t->pipe_w);
  if (t->from >= 0) close(t->from);
  if (t->to >= 0) close(t->to);
  if (t->callback) napi_delete_reference(t->env, t->callback);
  if (t->resource) napi_delete_reference(t->env, t->resource);
  free(t->headers);
  free(t);
}

/* A records transfer's last two callback arguments: the headers captured, where capture stopped. */
static int records_result(napi_env env, transfer_t *t, napi_value *argv) {
  void *data;
  if (napi_create_buffer(env, t->headers_len, &data, &argv[0]) != napi_ok) return 0;
  if (t->headers_len) memcpy(data, t->headers, t->headers_len);
  return napi_create_double(env, (double)t->invalid_at, &argv[1]) == napi_ok;
}

static void on_handle_closed(uv_handle_t *h) {
  transfer_t *t = h->data;
  if (--t->open_handles > 0) return;
  if (t->notify) {
    napi_env env = t->env;
    napi_handle_scope scope;
    napi_value cb, resource, argv[5];
    size_t argc = t->records ? 5 : 3;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      if (napi_get_reference_value(env, t->callback, &cb) == napi_ok &&
          napi_get_reference_value(env, t->resource, &resource) == napi_ok &&
          napi_create_int32(env, t->error, &argv[0]) == napi_ok &&
          napi_create_double(env, (double)t->written, &argv[1]) == napi_ok &&
          napi_create_int32(env, t->side, &argv[2]) == napi_ok && (!t->records || records_result(env, t, &argv[3]))) {
        release(t);
        t = NULL;
        napi_make_callback(env, NULL, resource, cb, argc, argv, NULL);
      }
      napi_close_handle_scope(env, scope);
    }
    if (t) release(t);
    return;
  }
  release(t);
}

/* Ends the transfer: the watchers are closed first, the descriptors once they are. */
static void finish(transfer_t *t, int error, int side, int notify) {
  if (t->closing) return;
  t->closing = 1;
  t->error = error;
  t->side = side;
  t->notify = notify;
  uv_close((uv_handle_t *)&t->from_poll, on_handle_closed);
  uv_close((uv_handle_t *)&t->to_poll, on_handle_closed);
}

static void watch(transfer_t *t);

/* Where capture goes next: a header at `at`, if all of it is within the transfer. */
static void expect_header(transfer_t *t, int64_t at) {
  t->next = at;
  if (at > t->total - HEADER) t->capture = 0; /* none, or a batch cut short at the end: plain bytes */
}

/* A whole header has been read: keep it and find the next one from its length field. */
static int captured(transfer_t *t) {
  const unsigned char *l = t->head + 8; /* batchLength, big-endian: how many bytes follow it */
  int32_t length = (int32_t)((uint32_t)l[0] << 24 | (uint32_t)l[1] << 16 | (uint32_t)l[2] << 8 | l[3]);
  if (length < HEADER - 12) { /* not a record batch: the rest is relayed without looking */
    t->invalid_at = t->next;
    t->capture = 0;
    return 0;
  }
  if (t->headers_len + HEADER > t->headers_cap) {
    size_t cap = t->headers_cap ? 2 * t->headers_cap : 16 * HEADER;
    unsigned char *p = realloc(t->headers, cap);
    if (!p) return ENOMEM;
    t->headers = p;
    t->headers_cap = cap;
  }
  memcpy(t->headers + t->headers_len, t->head, HEADER);
  t->headers_len += HEADER;
  expect_header(t, t->next + 12 + length);
  return 0;
}

/* Whether the source's next bytes are (the rest of) a header to capture. */
static int at_header(const transfer_t *t) {
  return t->capture && t->head_len < HEADER && t->total - t->to_read == t->next + t->head_len;
}

/*
 * Moves what it can without blocking. Bytes go source -> pipe -> target; the pipe is drained
 * before more is read, and the source is read only for what the transfer still owes, so the
 * bytes after it (the next response) stay in the socket for Node to read. A records transfer
 * splices only up to the next header, which is read, then written into the pipe before the
 * bytes after it (at most PIPE_BUF, so all at once or not at all).
 */
static void pump(transfer_t *t) {
  for (;;) {
    int progressed = 0;
    if (t->in_pipe > 0) {
      ssize_t n = splice(t->pipe_r, NULL, t->to, NULL, (size_t)t->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        t->in_pipe -= n;
        t->written += n;
        progressed = 1;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (!(n < 0 && errno == EAGAIN)) {
        return finish(t, n < 0 ? errno : EPIPE, 1, 1);
      }
    }
    if (t->written == t->total) return finish(t, 0, 0, 1);
    if (t->head_len == HEADER) {
      ssize_t n = write(t->pipe_w, t->head, HEADER);
      if (n == HEADER) {
        t->in_pipe += n;
        t->head_len = 0;
        progressed = 1;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (!(n < 0 && errno == EAGAIN)) { /* EAGAIN: the pipe is full, until the target takes some */
        return finish(t, n < 0 ? errno : EIO, 1, 1);
      }
    } else if (at_header(t)) {
      ssize_t n = read(t->from, t->head + t->head_len, HEADER - t->head_len);
      if (n > 0) {
        t->to_read -= n;
        t->head_len += n;
        progressed = 1;
        int e = t->head_len == HEADER ? captured(t) : 0;
        if (e) return finish(t, e, 0, 1);
      } else if (n == 0) {
        return finish(t, ECONNRESET, 0, 1);
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN) {
        return finish(t, errno, 0, 1);
      }
    } else if (t->to_read > 0 && t->in_pipe < t->pipe_cap) {
      int64_t want = t->to_read < t->pipe_cap - t->in_pipe ? t->to_read : t->pipe_cap - t->in_pipe;
      if (t->capture && t->next - (t->total - t->to_read) < want) want = t->next - (t->total - t->to_read);
      ssize_t n = splice(t->from, NULL, t->pipe_w, NULL, (size_t)want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        t->to_read -= n;
        t->in_pipe += n;
        progressed = 1;
      } else if (n == 0) {
        return finish(t, ECONNRESET, 0, 1); /* the source ended before the bytes owed */
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN) {
        return finish(t, errno, 0, 1);
      }
    }
    if (!progressed) break;
  }
  watch(t);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  transfer_t *t = h->data;
  (void)events;
  if (t->closing) return;
  if (status < 0) return finish(t, -status, h == &t->to_poll, 1);
  pump(t);
}

/*
 * What to wait for. Bytes in the pipe: the target, which refused them. An empty pipe: the
 * source (a pipe holding bytes may be full by its slots before its bytes, so the source is not
 * watched then; it is read again as soon as the target takes some). A header is read whatever
 * the pipe holds; a whole one waiting for the pipe waits for the target, like bytes in it.
 */
static void watch(transfer_t *t) {
  int from_events = (t->in_pipe == 0 && t->to_read > 0 && t->head_len < HEADER) || at_header(t) ? UV_READABLE : 0;
  int to_events = t->in_pipe > 0 ? UV_WRITABLE : 0;
  if (from_events != t->from_events) {
    if (from_events) uv_poll_start(&t->from_poll, from_events, on_poll);
    else uv_poll_stop(&t->from_poll);
    t->from_events = from_events;
  }
  if (to_events != t->to_events) {
    if (to_events) uv_poll_start(&t->to_poll, to_events, on_poll);
    else uv_poll_stop(&t->to_poll);
    t->to_events = to_events;
  }
}

/* start and startRecords: records (with the first header at first_boundary) or plain bytes. */
static napi_value begin(napi_env env, napi_callback_info info, int records) {
  size_t argc = 5, want = records ? 5 : 4;
  napi_value argv[5], external, resource;
  int32_t from_fd, to_fd;
  double length, first_boundary = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < want) {
    napi_throw_type_error(env, NULL,
                          records ? "startRecords(fromFd, toFd, length, firstBoundary, callback)"
                                  : "start(fromFd, toFd, length, callback)");
    return NULL;
  }
  CHECK(napi_get_value_int32(env, argv[0], &from_fd));
  CHECK(napi_get_value_int32(env, argv[1], &to_fd));
  CHECK(napi_get_value_double(env, argv[2], &length));
  if (records) CHECK(napi_get_value_double(env, argv[3], &first_boundary));
  if (length <= 0) {
    napi_throw_range_error(env, NULL, "length must be positive");
    return NULL;
  }
  if (!(first_boundary >= 0)) {
    napi_throw_range_error(env, NULL, "firstBoundary must not be negative");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));

  napi_ref callback, resource_ref;
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_reference(env, argv[want - 1], 1, &callback));
  CHECK(napi_create_reference(env, resource, 1, &resource_ref));
  transfer_t *t = calloc(1, sizeof *t);
  if (!t) {
    napi_delete_reference(env, callback);
    napi_delete_reference(env, resource_ref);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  t->callback = callback;
  t->resource = resource_ref;
  t->env = env;
  t->from = t->to = t->pipe_r = t->pipe_w = -1;
  t->total = t->to_read = (int64_t)length;
  t->records = t->capture = records;
  t->invalid_at = -1;
  if (records) expect_header(t, first_boundary < length ? (int64_t)first_boundary : t->total);
  int fds[2];
  t->from = fcntl(from_fd, F_DUPFD_CLOEXEC, 0);
  t->to = fcntl(to_fd, F_DUPFD_CLOEXEC, 0);
  if (t->from < 0 || t->to < 0 || pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
    int e = errno;
    release(t);
    napi_throw_error(env, NULL, e == EMFILE ? "too many open files" : "cannot set up a zero-copy relay");
    return NULL;
  }
  t->pipe_r = fds[0];
  t->pipe_w = fds[1];
  int cap = fcntl(t->pipe_w, F_SETPIPE_SZ, 1 << 20);
  if (cap < 0) cap = fcntl(t->pipe_w, F_GETPIPE_SZ);
  t->pipe_cap = cap > 0 ? cap : 65536;

  if (uv_poll_init(loop, &t->from_poll, t->from) != 0 || uv_poll_init(loop, &t->to_poll, t->to) != 0) {
    release(t);
    napi_throw_error(env, NULL, "cannot watch the sockets");
    return NULL;
  }
  t->from_poll.data = t->to_poll.data = t;
  t->open_handles = 2;
  /* Nothing moves before this call returns: the first pass runs when the source is readable. */
  uv_poll_start(&t->from_poll, UV_READABLE, on_poll);
  t->from_events = UV_READABLE;
  CHECK(napi_create_external(env, t, NULL, NULL, &external)); /* freed when the transfer ends */
  return external;
}

static napi_value start(napi_env env, napi_callback_info info) { return begin(env, info, 0); }

static napi_value start_records(napi_env env, napi_callback_info info) { return begin(env, info, 1); }

static napi_value cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_external(env, argv[0], &data));
  transfer_t *t = data;
  /* A finished transfer may already be freed; JavaScript cancels only one it has not heard end. */
  if (!t->closing) finish(t, ECANCELED, 0, 0);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "start", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "startRecords", NAPI_AUTO_LENGTH, start_records, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "startRecords", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, cancel, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "cancel", fn) != napi_ok) return NULL;
  return exports;
}
