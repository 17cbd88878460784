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
