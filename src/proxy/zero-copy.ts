/**
 * The optional zero-copy relay for cut-through responses (native/splice.c): on Linux, the bytes
 * of a large response nobody needs to see are moved from the broker's socket to the client's by
 * the kernel (splice through a pipe) instead of being read into the process and written out
 * again. It is an accelerator only: where the addon was not built (no C compiler at install, not
 * Linux) or the config turns it off (performance.zeroCopy), responses are cut through by ordinary
 * reads and writes, with the same bytes on the wire.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';

interface Addon {
  start(fromFd: number, toFd: number, length: number, done: (errno: number, written: number, side: number) => void): object;
  startRecords(
    fromFd: number,
    toFd: number,
    length: number,
    firstBoundary: number,
    done: (errno: number, written: number, side: number, headers: Buffer, invalidAt: number) => void,
  ): object;
  cancel(transfer: object): void;
}

/** A relay in progress; `cancel` stops it without its callback. */
export interface Relay {
  cancel(): void;
}

/** Where scripts/build-native.mjs puts the addon, from src/proxy (checkout) or dist/src/proxy (package). */
function addonPath(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../build/gatehouse_splice.node', '../../../build/gatehouse_splice.node']) {
    const p = join(here, rel);
    if (existsSync(p)) return p;
  }
  return null;
}

function load(): { addon: Addon | null; why: string } {
  if (process.platform !== 'linux') return { addon: null, why: `not available on ${process.platform}` };
  const path = addonPath();
  if (!path) return { addon: null, why: 'native relay not built (npm run build:native; it needs a C compiler and Node headers)' };
  try {
    return { addon: createRequire(import.meta.url)(path) as Addon, why: 'native splice relay' };
  } catch (err) {
    return { addon: null, why: `native relay failed to load: ${(err as Error).message}` };
  }
}

const loaded = load();

/** Whether responses can be relayed without copies, and why (for the startup log). */
export const zeroCopy = { available: loaded.addon !== null, reason: loaded.why };

/** The socket's file descriptor, when it is a plain TCP socket (not TLS, not wrapped). */
function fdOf(socket: Socket): number | null {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** Whether `relay` can be used between these two sockets. */
export function canRelay(from: Socket, to: Socket): boolean {
  return loaded.addon !== null && !('encrypted' in from) && !('encrypted' in to) && fdOf(from) !== null && fdOf(to) !== null;
}

/** How a relay ended: `errno` 0 when every byte was moved; else the error and whose it was. */
export interface RelayEnd {
  errno: number;
  written: number;
  /** Which socket failed: the source ('from') or the target ('to'). */
  side: 'from' | 'to';
}

/** The `Relay` of a transfer `begin` starts; `begin`'s callback says when it has ended (no cancel after). */
function handleOf(begin: (ended: () => void) => object): Relay {
  const addon = loaded.addon!;
  let live = true;
  const handle = begin(() => (live = false));
  return {
    cancel() {
      if (!live) return;
      live = false;
      addon.cancel(handle);
    },
  };
}

const endOf = (errno: number, written: number, side: number): RelayEnd => ({ errno, written, side: side === 1 ? 'to' : 'from' });

/**
 * Moves exactly `length` bytes from `from` to `to` in the kernel. The caller has stopped reading
 * `from` and has nothing left to write on `to`, and does neither until `done`.
 */
export function relay(from: Socket, to: Socket, length: number, done: (end: RelayEnd) => void): Relay {
  return handleOf((ended) =>
    loaded.addon!.start(fdOf(from)!, fdOf(to)!, length, (errno, written, side) => {
      ended();
      done(endOf(errno, written, side));
    }),
  );
}

/** The size of a record batch's header (baseOffset .. recordCount), which `relayRecords` captures. */
export const BATCH_HEADER = 61;

/**
 * Like `relay`, for `length` bytes of a records field (record batches v2), capturing each batch's
 * 61-byte header on the way while the batches' bodies stay in the kernel. The first header starts
 * `firstBoundary` bytes in (0 at a batch's start; the rest of a batch whose header the caller has
 * seen; `length` or more: none in the range), each next one after the batch's length. Bytes at a
 * boundary with less than a header left in the range (a batch cut short at the end of a Fetch)
 * are relayed without capture.
 *
 * `done` gets the headers end to end, in order (a multiple of 61 bytes; after an error, those read
 * before it), and `invalidAt`: null, or the offset in the range of a header whose length field is
 * below a batch's minimum (49), which is not among `headers`; the bytes from there on are relayed
 * without capture, as they are not batches.
 */
export function relayRecords(
  from: Socket,
  to: Socket,
  length: number,
  firstBoundary: number,
  done: (end: RelayEnd, headers: Buffer, invalidAt: number | null) => void,
): Relay {
  return handleOf((ended) =>
    loaded.addon!.startRecords(fdOf(from)!, fdOf(to)!, length, firstBoundary, (errno, written, side, headers, invalidAt) => {
      ended();
      done(endOf(errno, written, side), headers, invalidAt < 0 ? null : invalidAt);
    }),
  );
}
