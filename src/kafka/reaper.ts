/**
 * Safety net so that no JVM outlives the Node process that started it.
 *
 * - On process 'exit' every tracked child gets SIGKILL and its scratch folders are removed
 *   (best effort, synchronously). On SIGINT, SIGTERM and SIGHUP the same happens before the
 *   signal's default action (termination) when nothing else listens for that signal.
 * - For long-lived children (brokers) `watchParent` also starts a tiny detached shell that
 *   SIGKILLs the child and removes its scratch folder if this Node process disappears without
 *   running any handler (e.g. it was itself SIGKILLed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

interface Tracked {
  child: ChildProcess;
  scratch: string[];
}

const tracked = new Set<Tracked>();
let installed = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function reapAll(): void {
  for (const t of tracked) {
    if (t.child.exitCode === null && t.child.signalCode === null) {
      try {
        t.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of t.scratch) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
      } catch {
        // the JVM may still be writing; the watchdog (if any) retries
      }
    }
  }
  tracked.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // Someone else handles this signal (e.g. an app that stops its broker gracefully): leave it to
  // them; the 'exit' handler and the watchdog still catch whatever they leave running.
  if (process.listenerCount(signal) > 1) return;
  // We are the only listener, so our listener suppressed Node's default (terminate): reap, then
  // restore and re-raise it.
  reapAll();
  uninstall();
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', reapAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', reapAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Kill `child` (and delete `scratch`) if this process exits or is signalled first. Returns the untrack function. */
export function track(child: ChildProcess, scratch: string[] = []): () => void {
  install();
  const entry: Tracked = { child, scratch };
  tracked.add(entry);
  const untrack = (): void => {
    tracked.delete(entry);
    if (tracked.size === 0) uninstall();
  };
  child.once('exit', () => {
    // Keep scratch folders registered until the owner untracks (it deletes them itself).
    if (scratch.length === 0) untrack();
  });
  return untrack;
}

/**
 * Starts a detached watchdog: once this process is gone, it SIGKILLs `pid` and removes `scratch`.
 * It exits on its own when `pid` exits. Returns a function that stops the watchdog.
 */
export function watchParent(pid: number, scratch: string[] = []): () => void {
  const script = [
    'parent=$1; child=$2; shift 2',
    'while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done',
    'if ! kill -0 "$parent" 2>/dev/null; then',
    '  kill -9 "$child" 2>/dev/null; sleep 1',
    '  for d in "$@"; do rm -rf -- "$d"; done',
    'fi',
  ].join('\n');
  const dog = spawn('/bin/sh', ['-c', script, 'gatehouse-watchdog', String(process.pid), String(pid), ...scratch], {
    detached: true,
    stdio: 'ignore',
  });
  dog.on('error', () => {
    // no /bin/sh: the in-process handlers still apply
  });
  dog.unref();
  return () => {
    if (dog.exitCode === null && dog.signalCode === null) {
      try {
        dog.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  };
}
