/**
 * Sockets that read into pooled buffers (Node's `onread`) instead of a fresh 64 KiB buffer per
 * read: 256 KiB ones while a large frame streams in (a quarter of the read system calls), 16 KiB
 * ones otherwise, and no garbage per byte read. Both ends of a plaintext connection use them:
 * broker sockets the proxy connects (`connectPooled`) and client sockets it accepts
 * (`adoptPooled`).
 *
 * A consumer gets each read as a view of the pooled buffer plus a lease on it: the buffer goes
 * back to the pool once the read has been handled and every `hold()` taken on it has been
 * released, and no read lands in it before that. A hold that is never released only costs the
 * pool that buffer (the garbage collector takes it); a release that comes too early would let
 * a later read overwrite bytes still in use, so holders release only when truly done. Until a
 * consumer takes over, reads are emitted as ordinary 'data' events with copies, so the proxy's
 * SASL login and discovery see a plain socket.
 */
import { connect, Socket, type TcpNetConnectOpts } from 'node:net';

export const READ_BUFFER_BYTES = 256 * 1024;
/**
 * An idle or lightly used connection reads into a small buffer: Node holds a socket's next read
 * buffer while it waits, and a large one per idle broker connection would add up. A read that
 * fills its buffer means more is coming, so the next read gets a large one.
 */
export const SMALL_READ_BUFFER_BYTES = 16 * 1024;
/** Free buffers kept for reuse per size (per process); more are allocated when all are in use. */
const POOL_LIMIT = 64;
const free = new Map<number, Buffer[]>([
  [READ_BUFFER_BYTES, []],
  [SMALL_READ_BUFFER_BYTES, []],
]);

function take(size: number): Buffer {
  return free.get(size)!.pop() ?? Buffer.allocUnsafe(size);
}

/** One read's hold on its pooled buffer. */
export interface Lease {
  /** Another use of the bytes (a pending write); call the returned function when it is done. */
  hold(): () => void;
}

export type BorrowedConsumer = (view: Buffer, lease: Lease) => void;

interface Reader {
  consumer: BorrowedConsumer | null;
}

const readers = new WeakMap<Socket, Reader>();

/** `fn` as a function that does its work on the first call only (a release called twice). */
export function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/** Bytes of pooled buffers still held after their read was handled (see pinnedReadBytes). */
let pinned = 0;

/**
 * Bytes of pooled read buffers (all sockets of the process) still held after their read was
 * handled: requests in use, the start of an incomplete request, writes in flight. What slow or
 * stalled peers keep from reuse; a hold never released stays counted.
 */
export function pinnedReadBytes(): number {
  return pinned;
}

class PooledBuffer implements Lease {
  private refs = 1;
  /** Counted in `pinned` (held past its read). */
  private counted = false;
  constructor(readonly buf: Buffer) {}
  hold(): () => void {
    this.refs++;
    return once(() => this.release());
  }
  /** The read has been handled: its own use ends, and a hold left pins the buffer. */
  handled(): void {
    if (this.refs > 1) {
      this.counted = true;
      pinned += this.buf.length;
    }
    this.release();
  }
  release(): void {
    if (--this.refs > 0) return;
    if (this.counted) {
      this.counted = false;
      pinned -= this.buf.length;
    }
    const list = free.get(this.buf.length);
    if (list && list.length < POOL_LIMIT) list.push(this.buf);
  }
}

/** The `onread` option for one socket, and the reader its reads are delivered through. */
function pooledOnread(reader: Reader, socket: () => Socket) {
  // The lease of each buffer handed to Node, found again by the buffer the read came in.
  const leases = new WeakMap<Uint8Array, PooledBuffer>();
  let nextSize = SMALL_READ_BUFFER_BYTES;
  return {
    buffer: () => {
      const pooled = new PooledBuffer(take(nextSize));
      leases.set(pooled.buf, pooled);
      return pooled.buf;
    },
    callback: (nread: number, buf: Uint8Array) => {
      const lease = leases.get(buf) ?? new PooledBuffer(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
      const view = Buffer.from(buf.buffer, buf.byteOffset, nread);
      nextSize = nread === buf.byteLength ? READ_BUFFER_BYTES : SMALL_READ_BUFFER_BYTES;
      try {
        if (reader.consumer) reader.consumer(view, lease);
        else socket().emit('data', Buffer.from(view)); // a copy: the listener may keep it
      } finally {
        lease.handled();
      }
      return true;
    },
  };
}

/** net.connect with pooled reads. */
export function connectPooled(opts: TcpNetConnectOpts): Socket {
  const reader: Reader = { consumer: null };
  const socket: Socket = connect({ ...opts, onread: pooledOnread(reader, () => socket) });
  readers.set(socket, reader);
  return socket;
}

/**
 * A socket a plaintext server accepted, moved onto pooled reads. Node offers `onread` only to
 * sockets it creates from options, so the accepted socket's handle (its file descriptor) is
 * handed to a new socket that reads that way. The server must be created with
 * `pauseOnConnect: true` so that nothing is read before the move. The accepted socket stays
 * behind as an empty shell that the server counts as a connection: it is destroyed when the new
 * socket closes, so `server.close()` still waits for every connection. Where the handle cannot
 * be moved (a TLS socket, a Node without `_handle`), the socket is returned as it was, resumed.
 */
export function adoptPooled(accepted: Socket): Socket {
  const shell = accepted as Socket & { _handle?: unknown };
  const handle = shell._handle;
  if (!handle || typeof handle !== 'object' || !('readStart' in handle) || accepted.constructor !== Socket) {
    accepted.resume();
    return accepted;
  }
  const reader: Reader = { consumer: null };
  shell._handle = null;
  const socket: Socket = new Socket({ handle, readable: true, writable: true, onread: pooledOnread(reader, () => socket) } as never);
  socket.once('close', () => accepted.destroy());
  readers.set(socket, reader);
  return socket;
}

/** Hands a pooled socket's reads to `consumer` (no more 'data' events); false for other sockets. */
export function consumeBorrowed(socket: Socket, consumer: BorrowedConsumer): boolean {
  const reader = readers.get(socket);
  if (!reader) return false;
  reader.consumer = consumer;
  return true;
}
