import { describe, expect, it } from 'vitest';
import { Policy } from './authorizer.js';
import { lintPolicy } from './lint.js';
import { parsePolicy } from './load.js';

describe('policy lint', () => {
  const policy = new Policy(
    parsePolicy({
      roles: {
        orphan: { rules: [{ resource: 'cluster', operations: ['Describe'] }] },
        idle: { members: { groups: ['g'] } },
        app: {
          members: { groups: ['team'] },
          rules: [
            { resource: 'topic', name: 'app_*', operations: ['All'] },
            { resource: 'topic', name: 'app_orders', operations: ['Read'] },
            { resource: 'topic', name: 'other', operations: ['Write'] },
            { resource: 'topic', name: 'other', operations: ['Describe'] },
            { resource: 'group', name: 'app-', pattern: 'prefix', operations: ['Read'] },
            { resource: 'group', name: 'app-legacy', operations: ['Read'], effect: 'deny' },
            { resource: 'topic', name: 'ghost_', pattern: 'prefix', operations: ['Read'], effect: 'deny' },
            { resource: 'topic', name: 'ghost_1', operations: ['Read'] },
          ],
        },
      },
    }),
  );

  it('reports roles without members or rules, shadowed and overridden rules, and patterns matching nothing known', () => {
    const findings = lintPolicy(policy, { topics: ['app_orders', 'payments'], groups: ['app-1'] });
    const by = (kind: string) => findings.filter((f) => f.kind === kind).map((f) => f.rule ?? f.role);
    expect(by('unused-role')).toEqual(['orphan']);
    expect(by('empty-role')).toEqual(['idle']);
    // app_orders Read is inside app_* All; Describe on "other" is implied by Write on it.
    expect(by('shadowed-rule')).toEqual(['app/1', 'app/3']);
    expect(by('overridden-rule')).toEqual(['app/7']);
    expect(by('matches-nothing')).toEqual(['app/2', 'app/3', 'app/7']);
  });

  it('does not call a rule granting CreateTokens shadowed by All, which leaves it out', () => {
    const tokens = new Policy(
      parsePolicy({
        roles: {
          a: {
            members: { groups: ['x'] },
            rules: [
              { resource: 'cluster', operations: ['All'] },
              { resource: 'cluster', operations: ['CreateTokens'] },
              { resource: 'cluster', operations: ['Alter'] },
            ],
          },
        },
      }),
    );
    expect(lintPolicy(tokens).map((f) => f.rule)).toEqual(['a/2']);
  });

  it('finds nothing to say about a tidy policy', () => {
    const tidy = new Policy(parsePolicy({ roles: { a: { members: { groups: ['x'] }, rules: [{ resource: 'topic', name: 't', operations: ['Read'] }] } } }));
    expect(lintPolicy(tidy, { topics: ['t'] })).toEqual([]);
  });
});

describe('policy lint: identity sources', () => {
  const policy = new Policy(
    parsePolicy({
      roles: {
        people: { members: { principals: ['alice', 'corp:bob', 'corp:svc-*', 'svc-*', '*', 'local:batch'] }, rules: [{ resource: 'topic', name: 't', operations: ['Read'] }] },
        partners: { members: { issuers: ['partnr'], groups: ['g'] }, rules: [{ resource: 'topic', name: 't', operations: ['Read'] }] },
      },
    }),
  );

  it('reports bare principal entries where names are qualified, and pins to sources that do not exist', () => {
    const findings = lintPolicy(policy, {}, ['corp', 'partner', 'local']);
    expect(findings.filter((f) => f.kind === 'unqualified-principal').map((f) => f.message)).toEqual([
      'role people: principal "alice" matches no one: with several identity sources principals are named source:name (corp:…, partner:…, local:…)',
      'role people: principal "svc-*" matches no one: with several identity sources principals are named source:name (corp:…, partner:…, local:…)',
    ]);
    expect(findings.filter((f) => f.kind === 'unknown-issuer')).toMatchObject([{ role: 'partners', message: expect.stringContaining('"partnr", which is none of the identity sources (corp, partner, local)') }]);
  });

  it('says nothing of bare names with a single source, or without the config', () => {
    expect(lintPolicy(policy, {}, ['oidc']).map((f) => f.kind)).toEqual(['unknown-issuer']);
    expect(lintPolicy(policy, {})).toEqual([]);
  });
});
