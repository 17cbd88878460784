/** Runs a command to completion, collecting its output, with a hard timeout. */
import { spawn } from 'node:child_process';
import { track } from './reaper.js';

export interface ProcessResult {
  /** Exit code (null if the process died of a signal). */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ProcessOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/**
 * Resolves with the exit code and output whatever the code; rejects only if the command cannot
 * start or runs past the timeout (then it is killed). The child is tracked by the reaper, so it
 * cannot outlive this process.
 */
export function runProcess(cmd: string, args: string[], opts: ProcessOptions = {}, label = `${cmd} ${args.join(' ')}`): Promise<ProcessResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    const untrack = track(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      untrack();
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      untrack();
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (timedOut) {
        reject(new Error(`${label} timed out after ${timeoutMs} ms; stderr:\n${stderr.trim().split('\n').slice(-20).join('\n')}`));
      } else {
        resolve({ code, stdout, stderr });
      }
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {
        // the command may exit before reading all of its input; its exit code tells the story
      });
      child.stdin!.end(opts.input);
    }
  });
}
