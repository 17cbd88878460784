import { describe, expect, it } from 'vitest';
import { Policy } from './authorizer.js';
import { OPERATION_CODES, type Action, type Operation, type ResourceType } from './model.js';
import { parsePolicy } from './load.js';

const policy = new Policy(
  parsePolicy({
    roles: {
      admin: {
        members: { groups: ['platform-admins'] },
        rules: [
          { resource: 'cluster', operations: ['All'] },
          { resource: 'topic', name: '*', operations: ['All'] },
          { resource: 'group', name: '*', operations: ['All'] },
        ],
      },
      'payments-app': {
        members: { groups: ['payments-team'], principals: ['svc-pay-*'] },
        rules: [
          { resource: 'topic', name: 'payments_*', operations: ['All'] },
          { resource: 'group', name: 'payments-', pattern: 'prefix', operations: ['All'] },
          { resource: 'topic', name: 'payments_secret', operations: ['Read'], effect: 'deny' },
        ],
      },
      analytics: {
        members: { claims: { department: 'analytics', 'realm_access.roles': ['reader', 'viewer'] } },
        rules: [{ resource: 'topic', name: 'payments_*', operations: ['Read'] }],
      },
      auditor: {
        members: { groups: ['auditors'] },
        rules: [{ resource: 'topic', name: '__gatehouse_audit', operations: ['Read', 'Describe'] }],
      },
    },
  }),
  { names: ['__gatehouse_audit'], prefixes: ['__gatehouse'] },
);

const subject = (name: string, groups: string[] = [], claims: Record<string, unknown> = {}) => policy.forSubject({ name, groups, claims });
const act = (resourceType: ResourceType, name: string, operation: Operation): Action => ({ resourceType, name, operation });

describe('policy decisions', () => {
  it('binds roles by group, by principal glob and by claim expressions', () => {
    expect(subject('x', ['payments-team']).roleNames).toEqual(['payments-app']);
    expect(subject('svc-pay-1').roleNames).toEqual(['payments-app']);
    expect(subject('y', [], { department: 'analytics', realm_access: { roles: ['viewer'] } }).roleNames).toEqual(['analytics']);
    // Every listed claim must match.
    expect(subject('y', [], { department: 'analytics' }).roleNames).toEqual([]);
    expect(subject('nobody').roleNames).toEqual([]);
  });

  it('denies by default and names the deciding rule', () => {
    const pay = subject('p', ['payments-team']);
    expect(pay.decide(act('topic', 'payments_in', 'Write'))).toMatchObject({ allowed: true, rule: 'payments-app/0' });
    expect(pay.decide(act('topic', 'orders', 'Write'))).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(pay.decide(act('group', 'payments-workers', 'Read'))).toMatchObject({ allowed: true, rule: 'payments-app/1' });
    expect(pay.decide(act('group', 'paymentsX', 'Read')).allowed).toBe(false);
    expect(subject('nobody').decide(act('cluster', 'kafka-cluster', 'Describe'))).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('lets deny win over allow, and does not imply denies', () => {
    const pay = subject('p', ['payments-team']);
    expect(pay.decide(act('topic', 'payments_secret', 'Read'))).toMatchObject({ allowed: false, rule: 'payments-app/2' });
    expect(pay.decide(act('topic', 'payments_secret', 'Describe'))).toMatchObject({ allowed: true });
    expect(pay.decide(act('topic', 'payments_secret', 'Write'))).toMatchObject({ allowed: true });
  });

  it('applies Kafka\'s implied operations to allows', () => {
    const an = subject('a', [], { department: 'analytics', realm_access: { roles: ['reader'] } });
    expect(an.decide(act('topic', 'payments_in', 'Describe'))).toMatchObject({ allowed: true, rule: 'analytics/0' });
    expect(an.decide(act('topic', 'payments_in', 'Write')).allowed).toBe(false);
    expect(an.decide(act('topic', 'payments_in', 'DescribeConfigs')).allowed).toBe(false);
  });

  it('protects the audit topic: no writes for anyone, reads only through a rule naming it', () => {
    const admin = subject('root', ['platform-admins']);
    expect(admin.decide(act('topic', 'anything', 'Write')).allowed).toBe(true);
    expect(admin.decide(act('topic', '__gatehouse_audit', 'Read'))).toMatchObject({ allowed: false, rule: 'protected-topic' });
    expect(admin.decide(act('topic', '__gatehouse_audit', 'Write'))).toMatchObject({ allowed: false, rule: 'protected-topic' });
    expect(admin.decide(act('topic', '__gatehouse_internal', 'Delete'))).toMatchObject({ allowed: false, rule: 'protected-topic' });
    const auditor = subject('aud', ['auditors']);
    expect(auditor.decide(act('topic', '__gatehouse_audit', 'Read'))).toMatchObject({ allowed: true, rule: 'auditor/0' });
    expect(auditor.decide(act('topic', '__gatehouse_audit', 'Write')).allowed).toBe(false);
    expect(auditor.decide(act('topic', 'payments_in', 'Read')).allowed).toBe(false);
  });

  it('grants the delegation-token operations only through a rule naming them: All does not include them', () => {
    const tokens = new Policy(
      parsePolicy({
        roles: {
          admin: { members: { groups: ['platform-admins'] }, rules: [{ resource: 'cluster', operations: ['All'] }] },
          issuer: { members: { groups: ['token-issuers'] }, rules: [{ resource: 'cluster', operations: ['CreateTokens', 'DescribeTokens'] }] },
          blocked: { members: { groups: ['blocked'] }, rules: [{ resource: 'cluster', operations: ['All'], effect: 'deny' }] },
        },
      }),
    );
    const who = (...groups: string[]) => tokens.forSubject({ name: 'x', groups, claims: {} });
    const admin = who('platform-admins');
    expect(admin.decide(act('cluster', 'kafka-cluster', 'Alter')).allowed).toBe(true);
    for (const op of ['CreateTokens', 'DescribeTokens'] as const) {
      expect(admin.decide(act('cluster', 'kafka-cluster', op))).toMatchObject({ allowed: false, rule: 'default-deny' });
      expect(admin.decideOnAny('cluster', op).allowed).toBe(false);
      expect(admin.authorizedOperations('cluster', 'kafka-cluster') & (1 << OPERATION_CODES[op])).toBe(0);
      expect(who('token-issuers').decide(act('cluster', 'kafka-cluster', op))).toMatchObject({ allowed: true, rule: 'issuer/0' });
      // A deny of All still takes them away.
      expect(who('token-issuers', 'blocked').decide(act('cluster', 'kafka-cluster', op))).toMatchObject({ allowed: false, rule: 'blocked/0' });
    }
  });

  it('answers authorizeByResourceType and authorized-operations bit fields', () => {
    const pay = subject('p', ['payments-team']);
    expect(pay.decideOnAny('topic', 'Write').allowed).toBe(true);
    expect(pay.decideOnAny('transactionalId', 'Write').allowed).toBe(false);
    const bits = pay.authorizedOperations('topic', 'payments_in');
    for (const op of ['Read', 'Write', 'Describe', 'AlterConfigs'] as const) expect(bits & (1 << OPERATION_CODES[op])).not.toBe(0);
    expect(pay.authorizedOperations('topic', 'orders')).toBe(0);
    expect(subject('root', ['platform-admins']).authorizedOperations('cluster', 'kafka-cluster') & (1 << OPERATION_CODES.Alter)).not.toBe(0);
  });
});

describe('policy members: sources and claims', () => {
  const p = new Policy(
    parsePolicy({
      roles: {
        'corp-alice': { members: { principals: ['corp:alice'] }, rules: [{ resource: 'topic', name: 'alice', operations: ['Read'] }] },
        'bare-alice': { members: { principals: ['alice'] }, rules: [{ resource: 'topic', name: 'bare', operations: ['Read'] }] },
        'corp-bots': { members: { principals: ['corp:svc-*'] }, rules: [{ resource: 'topic', name: 'bots', operations: ['Read'] }] },
        'corp-admins': { members: { issuers: ['corp'], groups: ['admins'] }, rules: [{ resource: 'cluster', operations: ['All'] }] },
        'pinned-claims': { members: { issuers: ['corp', 'local'], claims: { department: 'ops' } }, rules: [{ resource: 'topic', name: 'ops', operations: ['Read'] }] },
        ops: { members: { claims: { team: 'ops' } }, rules: [{ resource: 'topic', name: 'team-ops', operations: ['Read'] }] },
        writers: { members: { claims: { scope: 'kafka:write' } }, rules: [{ resource: 'topic', name: 'w', operations: ['Write'] }] },
        scp: { members: { claims: { scp: { value: ['kafka.read'], spaceSeparated: true } } }, rules: [{ resource: 'topic', name: 'r', operations: ['Read'] }] },
        'whole-scope': { members: { claims: { scope: { value: 'a', spaceSeparated: false } } }, rules: [{ resource: 'topic', name: 'a', operations: ['Read'] }] },
      },
    }),
  );
  /** A subject of `source`; `qualify`: its name is source:name, as where the config has several sources. */
  const of = (source: string, bare: string, qualify: boolean, groups: string[] = [], claims: Record<string, unknown> = {}) =>
    p.forSubject({ name: qualify ? `${source}:${bare}` : bare, source, qualifiedName: `${source}:${bare}`, groups, claims }).roleNames;

  it("a source:name entry binds that source's principal only, whether names are qualified or not", () => {
    expect(of('corp', 'alice', true)).toEqual(['corp-alice']);
    expect(of('corp', 'alice', false)).toEqual(['corp-alice', 'bare-alice']);
    expect(of('partner', 'alice', true)).toEqual([]);
    expect(of('local', 'alice', true)).toEqual([]);
    expect(of('corp', 'svc-pay', true)).toEqual(['corp-bots']);
    expect(of('local', 'svc-pay', true)).toEqual([]);
  });

  it('a bare entry binds the bare name only where the config has one source (names not qualified)', () => {
    expect(of('partner', 'alice', false)).toEqual(['bare-alice']);
    expect(of('partner', 'alice', true)).toEqual([]);
    // A bare name that looks qualified is still not the qualified name of another source.
    expect(of('partner', 'corp:alice', true)).toEqual([]);
  });

  it('issuers pin every binding of a role: groups and claims of other sources, and ANONYMOUS, do not bind it', () => {
    expect(of('corp', 'root', true, ['admins'])).toEqual(['corp-admins']);
    expect(of('partner', 'root', true, ['admins'])).toEqual([]);
    expect(of('corp', 'x', true, [], { department: 'ops' })).toEqual(['pinned-claims']);
    expect(of('local', 'x', true, [], { department: 'ops' })).toEqual(['pinned-claims']);
    expect(of('mtls', 'x', true, [], { department: 'ops' })).toEqual([]);
    expect(p.forSubject({ name: 'ANONYMOUS', groups: ['admins'], claims: { department: 'ops' } }).roleNames).toEqual([]);
  });

  it('matches claims exactly: a string claim is not split on spaces, except scope (or spaceSeparated)', () => {
    const roles = (claims: Record<string, unknown>) => of('corp', 'x', true, [], claims);
    expect(roles({ team: 'ops' })).toEqual(['ops']);
    expect(roles({ team: 'admins-readonly ops' })).toEqual([]);
    expect(roles({ team: ['admins-readonly', 'ops'] })).toEqual(['ops']);
    expect(roles({ scope: 'openid kafka:write' })).toEqual(['writers']);
    expect(roles({ scope: 'openid kafka:writer' })).toEqual([]);
    expect(roles({ scp: 'kafka.read kafka.write' })).toEqual(['scp']);
    expect(roles({ scope: 'a b' })).toEqual([]);
    expect(roles({ scope: 'a' })).toEqual(['whole-scope']);
  });

  it('keys decisions by source: the same name of two sources never shares a cache entry', () => {
    const key = (source: string) => p.subjectKey({ name: 'alice', source, qualifiedName: `${source}:alice`, groups: [], claims: {} });
    expect(key('corp')).not.toBe(key('partner'));
  });

  it('refuses malformed member entries', () => {
    expect(() => parsePolicy({ roles: { r: { members: { issuers: [] } } } })).toThrow(/issuers/);
    expect(() => parsePolicy({ roles: { r: { members: { issuers: ['https://idp.example'] } } } })).toThrow(/issuers are named as identity\.issuers\[\]\.name names them/);
    expect(() => parsePolicy({ roles: { r: { members: { claims: { scope: { value: [] } } } } } })).toThrow(/claims/);
    expect(() => parsePolicy({ roles: { r: { members: { claims: { scope: { values: 'a' } } } } } })).toThrow(/claims/);
  });
});
