import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultProduceRequest, defaultTopicProduceData } from '../../protocol/generated/produce-request.js';
import { setPrincipal, type Principal } from '../identity/principal.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { fakeConnection, fakeRequest } from '../../test/helpers/fake-request.js';
import { Policy, type Subject } from './authorizer.js';
import { DecisionCache, type DecisionCacheLimits } from './decision-cache.js';
import { parsePolicy } from './load.js';
import { policyDecisionCacheHits, policyDecisionCacheMisses } from './metrics.js';
import { getDecision, type Action } from './model.js';
import { PolicyStage } from './stage.js';
import { PolicyStore, StaticPolicy } from './store.js';
import { TopicIds } from './topic-ids.js';

const doc = parsePolicy({
  roles: {
    app: { members: { groups: ['team'] }, rules: [{ resource: 'topic', name: 'app_*', operations: ['Read', 'Write'] }] },
    ops: { members: { groups: ['ops'] }, rules: [{ resource: 'topic', name: 'app_*', operations: ['Read', 'Write'], effect: 'deny' }] },
    eu: { members: { claims: { region: 'eu' } }, rules: [{ resource: 'topic', name: 'eu_*', operations: ['Write'] }] },
    spray: { members: { principals: ['sprayer*'] }, rules: [{ resource: 'topic', name: '*', operations: ['Write'] }] },
  },
});

function conn(p: Partial<Principal>): ConnectionInfo {
  const c = fakeConnection();
  setPrincipal(c, { name: 'alice', groups: [], issuer: 'i', clientId: undefined, mechanism: 'OAUTHBEARER', expiresAt: Infinity, authenticatedAt: 1, claims: {}, ...p } as Principal);
  return c;
}

function produce(c: ConnectionInfo, ...topics: string[]) {
  const b = defaultProduceRequest();
  b.topicData = topics.map((name) => ({ ...defaultTopicProduceData(), name, partitionData: [{ index: 0, records: null }] }));
  return fakeRequest(c, ApiKey.Produce, b, 9);
}

/** The checks the stage recorded for a request, as "rule allowed" strings. */
function decided(stage: PolicyStage, req: ReturnType<typeof produce>): string[] {
  void stage.onRequest(req);
  return getDecision(req)!.checks.map((c) => `${c.action.name} ${c.allowed ? 'allow' : 'deny'} ${c.rule}`);
}

async function count(): Promise<{ hits: number; misses: number }> {
  return { hits: (await policyDecisionCacheHits.get()).values[0]?.value ?? 0, misses: (await policyDecisionCacheMisses.get()).values[0]?.value ?? 0 };
}

const write = (a: Action['name']): Action => ({ resourceType: 'topic', name: a, operation: 'Write' });

describe('decision cache', () => {
  it('serves a repeated action from the cache, recording the same check, and counts hits and misses', async () => {
    const cache = new DecisionCache();
    const stage = new PolicyStage({ source: new StaticPolicy(doc), decisions: cache });
    const before = await count();
    const c = conn({ groups: ['team'] });
    expect(decided(stage, produce(c, 'app_in'))).toEqual(['app_in allow app/0']);
    expect(decided(stage, produce(c, 'app_in'))).toEqual(['app_in allow app/0']);
    // Another connection of the same subject shares the decision.
    expect(decided(stage, produce(conn({ groups: ['team'] }), 'app_in'))).toEqual(['app_in allow app/0']);
    const after = await count();
    expect(after.hits - before.hits).toBe(2);
    expect(after.misses - before.misses).toBe(1);
    expect(cache.subjectCount).toBe(1);
  });

  it('a hot reload changes the next decision on an open connection (generation invalidation)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gh-decisions-')), 'policy.yaml');
    writeFileSync(file, 'roles:\n  app:\n    members: { groups: [team] }\n    rules:\n      - { resource: topic, name: "app_*", operations: [Write] }\n');
    const store = new PolicyStore({ location: { path: file, inline: false }, log: pino({ level: 'silent' }) });
    const stage = new PolicyStage({ source: store });
    const c = conn({ groups: ['team'] });
    expect(decided(stage, produce(c, 'app_in'))).toEqual(['app_in allow app/0']);
    expect(decided(stage, produce(c, 'app_in'))).toEqual(['app_in allow app/0']); // now cached

    writeFileSync(file, 'roles:\n  app:\n    members: { groups: [team] }\n    rules:\n      - { resource: topic, name: "app_*", operations: [Read] }\n      - { resource: topic, name: app_in, operations: [Write], effect: deny }\n');
    expect(store.reload('test')).toBe(true);
    expect(decided(stage, produce(c, 'app_in'))).toEqual(['app_in deny app/1']);

    // A rejected reload keeps the policy, its generation and what was cached under it.
    writeFileSync(file, 'roles: [');
    expect(store.reload('test')).toBe(false);
    expect(decided(stage, produce(c, 'app_in'))).toEqual(['app_in deny app/1']);
  });

  it('a request waiting for topic ids is decided under the policy in force when they arrive', async () => {
    const id = 'AAAAAAAAAAAAAAAAAAAAAQ';
    const source = { generation: 1, policy: new Policy(doc) };
    const topicIds = new TopicIds(async () => {
      // The policy is reloaded while the lookup is out.
      source.policy = new Policy(parsePolicy({ roles: {} }));
      source.generation++;
      return [[id, 'app_in']];
    }, 0);
    const stage = new PolicyStage({ source, topicIds });
    const c = conn({ groups: ['team'] });
    const b = defaultProduceRequest();
    b.topicData = [{ ...defaultTopicProduceData(), topicId: id, partitionData: [{ index: 0, records: null }] }];
    const req = fakeRequest(c, ApiKey.Produce, b, 13);
    expect(await stage.onRequest(req)).toHaveProperty('respond');
    expect(getDecision(req)!.checks).toEqual([{ action: { resourceType: 'topic', name: 'app_in', operation: 'Write' }, allowed: false, rule: 'default-deny' }]);
  });

  it('a newer generation empties the cache; an older one is neither served from it nor stored in it', () => {
    const cache = new DecisionCache();
    const v1 = new Policy(doc);
    const v2 = new Policy(parsePolicy({ roles: { app: { members: { groups: ['team'] }, rules: [] } } }));
    const team: Subject = { name: 'alice', groups: ['team'], claims: {} };
    const old = v1.forSubject(team, { cache, generation: 1 });
    expect(old.decide(write('app_in'))).toMatchObject({ allowed: true, rule: 'app/0' });
    expect(cache.size).toBe(1);
    const now = v2.forSubject(team, { cache, generation: 2 });
    expect(now.decide(write('app_in'))).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(cache.size).toBe(1);
    // A subject still holding generation 1 gets generation 1's answer, evaluated, and caches nothing.
    expect(old.decide(write('app_in'))).toMatchObject({ allowed: true, rule: 'app/0' });
    expect(old.decide(write('app_other'))).toMatchObject({ allowed: true, rule: 'app/0' });
    expect(cache.size).toBe(1);
    expect(now.decide(write('app_in'))).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('connections of one name with different groups or claims never share decisions', () => {
    const stage = new PolicyStage({ source: new StaticPolicy(doc) });
    const team = conn({ groups: ['team'] });
    const teamOps = conn({ groups: ['team', 'ops'] });
    const none = conn({ groups: [] });
    const eu = conn({ claims: { region: 'eu' } });
    const us = conn({ claims: { region: 'us' } });
    for (let round = 0; round < 2; round++) {
      expect(decided(stage, produce(team, 'app_in', 'eu_x'))).toEqual(['app_in allow app/0', 'eu_x deny default-deny']);
      expect(decided(stage, produce(teamOps, 'app_in'))).toEqual(['app_in deny ops/0']);
      expect(decided(stage, produce(none, 'app_in'))).toEqual(['app_in deny default-deny']);
      expect(decided(stage, produce(eu, 'app_in', 'eu_x'))).toEqual(['app_in deny default-deny', 'eu_x allow eu/0']);
      expect(decided(stage, produce(us, 'eu_x'))).toEqual(['eu_x deny default-deny']);
    }
  });

  it('keys a subject by what the policy reads of it: name, groups as a set, and which claim expressions hold', () => {
    const p = new Policy(doc);
    const key = (s: Partial<Subject>) => p.subjectKey({ name: 'alice', groups: [], claims: {}, ...s });
    // Successive tokens of one client (other expiry, other token id) share.
    expect(key({ groups: ['team'], claims: { region: 'eu', exp: 1, jti: 'a' } })).toBe(key({ groups: ['team'], claims: { region: 'eu', exp: 2, jti: 'b' } }));
    expect(key({ groups: ['team', 'ops'] })).toBe(key({ groups: ['ops', 'team', 'ops'] }));
    expect(key({ groups: ['team'] })).not.toBe(key({ groups: ['team', 'ops'] }));
    expect(key({ groups: ['team'] })).not.toBe(key({ name: 'bob', groups: ['team'] }));
    expect(key({ claims: { region: 'eu' } })).not.toBe(key({ claims: { region: 'us' } }));
    expect(key({ claims: { region: 'eu' } })).not.toBe(key({}));
    // Names and groups cannot be spliced into each other.
    expect(key({ name: 'a', groups: ['b,c'] })).not.toBe(key({ name: 'a', groups: ['b', 'c'] }));
    expect(key({ name: 'a","b' })).not.toBe(key({ name: 'a', groups: ['b'] }));
  });

  it('stays within its bounds however many distinct names and subjects come', () => {
    const limits: DecisionCacheLimits = { perSubject: 1_000, subjects: 8, entries: 4_000, maxNameLength: 255 };
    const cache = new DecisionCache(limits);
    const stage = new PolicyStage({ source: new StaticPolicy(doc), decisions: cache });
    const sprayer = conn({ name: 'sprayer-1' });
    const names = Array.from({ length: 100 }, (_, i) => `t${i}`);
    for (let batch = 0; batch < 200; batch++) {
      const req = produce(sprayer, ...names.map((n) => `${n}-${batch}`));
      void stage.onRequest(req);
      expect(getDecision(req)!.checks.every((c) => c.allowed && c.rule === 'spray/0')).toBe(true);
      expect(cache.size).toBeLessThanOrEqual(limits.perSubject);
    }
    // Many subjects, each with many names: the totals hold too.
    for (let s = 0; s < 50; s++) {
      const c = conn({ name: `sprayer-${s}` });
      for (let batch = 0; batch < 15; batch++) void stage.onRequest(produce(c, ...names.map((n) => `${n}-${batch}`)));
      expect(cache.subjectCount).toBeLessThanOrEqual(limits.subjects);
      expect(cache.size).toBeLessThanOrEqual(limits.entries);
    }
    // A name longer than maxNameLength is decided, never kept.
    const before = cache.size;
    const long = 'x'.repeat(256);
    expect(decided(stage, produce(conn({ name: 'sprayer-49' }), long))).toEqual([`${long} allow spray/0`]);
    expect(cache.size).toBe(before);
  });

  it('refuses limits it cannot keep', () => {
    expect(() => new DecisionCache({ perSubject: 100, subjects: 10, entries: 50, maxNameLength: 255 })).toThrow(RangeError);
  });
});
