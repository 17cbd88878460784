/**
 * The policy in force, and hot reload: the file is watched (and SIGHUP rereads it); a valid new
 * policy replaces the old one for the next request on every connection, none dropped; an
 * invalid one is logged with its reasons and the old one stays.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import { Policy, type ProtectedTopics } from './authorizer.js';
import { readPolicyFile, type PolicyLocation } from './load.js';
import { policyReloads } from './metrics.js';
import type { PolicyDocument } from './schema.js';

export interface PolicySource {
  /** The policy in force now. */
  readonly policy: Policy;
  /** Increases with every successful reload. */
  readonly generation: number;
}

/** A fixed policy (tests, `policy check`). */
export class StaticPolicy implements PolicySource {
  readonly generation = 1;
  readonly policy: Policy;
  constructor(doc: PolicyDocument, protectedTopics?: ProtectedTopics) {
    this.policy = new Policy(doc, protectedTopics);
  }
}

export interface PolicyStoreOptions {
  location: PolicyLocation;
  protectedTopics?: ProtectedTopics;
  log: Logger;
  /** Poll interval for file changes (ms). */
  watchIntervalMs?: number;
}

export class PolicyStore implements PolicySource {
  private current: Policy;
  private gen = 1;
  private started = false;
  private watching = false;
  private readonly onHup = () => this.reload('SIGHUP');
  private readonly onChange = (cur: Stats, prev: Stats) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) this.reload('file changed');
  };

  constructor(private readonly opts: PolicyStoreOptions) {
    // The first load throws: a proxy must not start with a policy it cannot read.
    this.current = new Policy(readPolicyFile(opts.location), opts.protectedTopics);
    opts.log.info({ file: opts.location.path, roles: this.current.roles.size }, 'policy loaded');
  }

  get policy(): Policy {
    return this.current;
  }

  get generation(): number {
    return this.gen;
  }

  /** Rereads the file; true when the new policy is in force. */
  reload(reason: string): boolean {
    try {
      const doc = readPolicyFile(this.opts.location);
      this.current = new Policy(doc, this.opts.protectedTopics);
      this.gen++;
      policyReloads.inc({ result: 'applied' });
      this.opts.log.info({ file: this.opts.location.path, reason, generation: this.gen, roles: this.current.roles.size }, 'policy reloaded');
      return true;
    } catch (err) {
      policyReloads.inc({ result: 'rejected' });
      const issues = (err as { issues?: string[] }).issues;
      this.opts.log.error({ file: this.opts.location.path, reason, issues: issues ?? [(err as Error).message] }, 'policy reload rejected; the previous policy stays in force');
      return false;
    }
  }

  /** Reloads on SIGHUP, and when `watch` (the default) also when the file changes. */
  start({ watch = true }: { watch?: boolean } = {}): void {
    if (this.started) return;
    this.started = true;
    if (watch) {
      this.watching = true;
      watchFile(this.opts.location.path, { interval: this.opts.watchIntervalMs ?? 500, persistent: false }, this.onChange);
    }
    process.on('SIGHUP', this.onHup);
  }

  close(): void {
    if (!this.started) return;
    this.started = false;
    if (this.watching) unwatchFile(this.opts.location.path, this.onChange);
    this.watching = false;
    process.off('SIGHUP', this.onHup);
  }
}
