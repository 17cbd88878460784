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

/**
 * Moves exactly `length` bytes from `from` to `to` in the kernel. The caller has stopped reading
 * `from` and has nothing left to write on `to`, and does neither until `done`.
 */
export function relay(from: Socket, to: Socket, length: number, done: (end: RelayEnd) => void): Relay {
  const addon = loaded.addon!;
  let live = true;
  const handle = addon.start(fdOf(from)!, fdOf(to)!, length, (errno, written, side) => {
    live = false;
    done({ errno, written, side: side === 1 ? 'to' : 'from' });
  });
  return {
    cancel() {
      if (!live) return;
      live = false;
      addon.cancel(handle);
    },
  };
}
