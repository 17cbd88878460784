import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { fakeConnection, fakeRequest } from '../../test/helpers/fake-request.js';
import { parseConfig } from '../config/load.js';
import { setPrincipal } from '../identity/principal.js';
import { kindOf } from './events.js';
import { AuditTrail } from './from-config.js';
import type { SpoolEntry } from './spool.js';

const dirs: string[] = [];
const trails: AuditTrail[] = [];
afterEach(async () => {
  for (const t of trails.splice(0)) await t.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

class Topic {
  readonly received: SpoolEntry[] = [];
  async send(entries: readonly SpoolEntry[]): Promise<void> {
    this.received.push(...entries);
  }
}

function trail(mode: 'fail-open' | 'fail-closed' = 'fail-closed') {
  const dir = mkdtempSync(join(tmpdir(), 'gh-trail-test-'));
  dirs.push(dir);
  const config = parseConfig({
    upstream: { bootstrap: ['kafka:9092'] },
    identity: { issuers: [{ issuer: 'https://idp.example', audience: 'kafka' }] },
    audit: { mode, spool: { dir }, unauthenticated: { inFullPerAddress: 1 } },
  }, 'test', {});
  const t = new AuditTrail(config.audit!, config, pino({ level: 'silent' }), { transport: new Topic(), lingerMs: 0 });
  trails.push(t);
  return t;
}

describe('audit trail: summariser and fail-closed gate wired', () => {
  it('events of sessions that never authenticate, and their summaries, reach the sink as background; an authenticated session\'s do not', () => {
    const t = trail();
    const append = vi.spyOn(t.sink, 'append');
    const session = (id: string, login: boolean) => {
      const c = fakeConnection({ id, openedAt: Date.now() });
      t.intake.onConnect(c);
      if (login) setPrincipal(c, { name: 'alice', source: 'oidc', qualifiedName: 'oidc:alice', groups: [], issuer: 'https://idp.example', clientId: undefined, mechanism: 'OAUTHBEARER', expiresAt: Date.now() + 60_000, authenticatedAt: Date.now(), claims: {} });
      t.intake.onRequest(fakeRequest(c, ApiKey.ApiVersions, {}, 0));
      t.stage.onClose(c, 'GH_CLIENT_CLOSED');
    };
    session('u1', false);
    session('u2', false); // past the rate: counted
    session('a1', true);
    t.summariser.flush(true);
    const calls = append.mock.calls.map(([e, , opts]) => ({ subject: e.subject, kind: kindOf(e.type), background: opts?.background === true }));
    expect(calls).toEqual([
      { subject: `${t.chain.instance}/u1`, kind: 'session.opened', background: true },
      { subject: `${t.chain.instance}/u1`, kind: 'session.closed', background: true },
      { subject: `${t.chain.instance}/a1`, kind: 'session.opened', background: false },
      { subject: `${t.chain.instance}/a1`, kind: 'session.closed', background: false },
      { subject: `summary/${t.chain.instance}/127.0.0.1`, kind: 'sessions.summary', background: true },
    ]);
  });

  it('fail-closed asks the sink about the request\'s own session', () => {
    const t = trail();
    const accepts = vi.spyOn(t.sink, 'accepts').mockReturnValue(false);
    const c = fakeConnection({ id: 'c9', openedAt: Date.now() });
    t.intake.onConnect(c);
    const decision = t.intake.onRequest(fakeRequest(c, ApiKey.CreateTopics, { topics: [] }, 7));
    expect(decision).toEqual({ close: expect.stringContaining('fail-closed') });
    expect(accepts).toHaveBeenCalledWith(`${t.chain.instance}/c9`);
    accepts.mockReturnValue(true);
    expect(t.intake.onRequest(fakeRequest(c, ApiKey.CreateTopics, { topics: [] }, 7))).toBeUndefined();
    expect(trail('fail-open').refusing('x')).toBe(false);
  });
});
