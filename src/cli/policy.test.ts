import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoPolicyYaml } from '../sandbox/demo-policy.js';
import { policyCommand, UsageError } from './policy.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-policy-cli-'));
writeFileSync(join(dir, 'policy.yaml'), demoPolicyYaml('__gatehouse_audit'));
const config = join(dir, 'gatehouse.yaml');
writeFileSync(config, 'upstream: { bootstrap: ["127.0.0.1:1"] }\npolicy: { file: policy.yaml }\naudit: { topic: __gatehouse_audit }\n');

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await policyCommand(args, (s) => void (out += s));
  return { code, out };
}

describe('gatehouse policy check', () => {
  it('prints allow and the deciding rule, exit 0', async () => {
    const r = await cli(['check', '--config', config, '--principal', 'alice', '--groups', 'payments-team', '--op', 'Read', '--topic', 'payments_in']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('ALLOW Read topic:payments_in for alice');
    expect(r.out).toContain('roles: payments-app');
    expect(r.out).toContain('rule payments-app/0: allow All on topic payments_*');
  });

  it('prints deny and why, exit 1', async () => {
    const r = await cli(['check', '--config', config, '--principal', 'bob', '--groups', 'analytics', '--op', 'write', '--topic', 'payments_in']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('DENY Write topic:payments_in for bob');
    expect(r.out).toContain('no rule allows it (default deny)');
    const audit = await cli(['check', '--config', config, '--principal', 'root', '--groups', 'platform-admins', '--op', 'Read', '--topic', '__gatehouse_audit']);
    expect(audit.code).toBe(1);
    expect(audit.out).toContain('protected topic');
    const cluster = await cli(['check', '--config', config, '--principal', 'root', '--groups', 'platform-admins', '--op', 'Alter', '--cluster']);
    expect(cluster.out).toContain('ALLOW Alter cluster for root');
    // All on the cluster does not include the delegation-token operations, and says so.
    const tokens = await cli(['check', '--config', config, '--principal', 'root', '--groups', 'platform-admins', '--op', 'CreateTokens', '--cluster']);
    expect(tokens.code).toBe(1);
    expect(tokens.out).toContain('DENY CreateTokens cluster for root');
    expect(tokens.out).toContain('only a rule naming CreateTokens grants it, All does not');
  });

  it('refuses incomplete questions with usage errors', async () => {
    await expect(cli(['check', '--config', config, '--op', 'Read', '--topic', 't'])).rejects.toThrow(UsageError);
    await expect(cli(['check', '--config', config, '--principal', 'p', '--op', 'Fly', '--topic', 't'])).rejects.toThrow(/--op must be one of/);
    await expect(cli(['check', '--config', config, '--principal', 'p', '--op', 'Read'])).rejects.toThrow(/exactly one of/);
  });
});

describe('gatehouse policy check: identity sources', () => {
  const hash = `scrypt$32768$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`;
  writeFileSync(
    join(dir, 'pinned.yaml'),
    ['roles:', '  alice:', '    members: { principals: ["corp:alice"] }', '    rules:', '      - { resource: topic, name: orders, operations: [Read] }', ''].join('\n'),
  );
  const multi = join(dir, 'multi.yaml');
  writeFileSync(
    multi,
    [
      'upstream: { bootstrap: ["127.0.0.1:1"] }',
      'policy: { file: pinned.yaml }',
      'identity:',
      '  issuers:',
      '    - { issuer: "https://corp.example", name: corp, audience: g }',
      '    - { issuer: "https://partner.example", name: partner, audience: g }',
      '  serviceAccounts:',
      `    - { name: alice, secretHash: "${hash}" }`,
      '',
    ].join('\n'),
  );
  const single = join(dir, 'single.yaml');
  writeFileSync(single, ['upstream: { bootstrap: ["127.0.0.1:1"] }', 'policy: { file: pinned.yaml }', 'identity:', '  issuers:', '    - { issuer: "https://corp.example", name: corp, audience: g }', ''].join('\n'));
  const check = (config: string, ...who: string[]) => cli(['check', '--config', config, ...who, '--op', 'Read', '--topic', 'orders']);

  it('names the principal as the proxy would, with its issuer, and tells the sources apart', async () => {
    const corp = await check(multi, '--principal', 'alice', '--issuer', 'corp');
    expect(corp.code).toBe(0);
    expect(corp.out).toContain('ALLOW Read topic:orders for corp:alice\n  issuer: corp\n  roles: alice\n');
    expect((await check(multi, '--principal', 'corp:alice')).out).toContain('ALLOW Read topic:orders for corp:alice');
    const partner = await check(multi, '--principal', 'partner:alice');
    expect(partner.code).toBe(1);
    expect(partner.out).toContain('DENY Read topic:orders for partner:alice\n  issuer: partner\n  roles: (none)');
    expect((await check(multi, '--principal', 'alice', '--issuer', 'local')).out).toContain('DENY Read topic:orders for local:alice');
    // One source: the bare name, which is that source's.
    expect((await check(single, '--principal', 'alice')).out).toContain('ALLOW Read topic:orders for alice\n  issuer: corp\n');
    // No identity section: as given, pinned entries only with --issuer.
    expect((await cli(['check', '--policy', join(dir, 'pinned.yaml'), '--principal', 'alice', '--op', 'Read', '--topic', 'orders'])).out).toContain(
      'DENY Read topic:orders for alice\n  issuer: (none given: roles pinned to issuers do not apply)',
    );
    expect((await cli(['check', '--policy', join(dir, 'pinned.yaml'), '--principal', 'alice', '--issuer', 'corp', '--op', 'Read', '--topic', 'orders'])).code).toBe(0);
  });

  it('refuses a principal whose source it cannot tell, or an issuer the config does not have', async () => {
    await expect(check(multi, '--principal', 'alice')).rejects.toThrow(/several identity sources \(corp, partner, local\): give --issuer/);
    await expect(check(multi, '--principal', 'alice', '--issuer', 'stranger')).rejects.toThrow(/--issuer must be one of the config's identity sources: corp, partner, local/);
  });

  it('lint reports bare principal entries under a config with several sources', async () => {
    writeFileSync(join(dir, 'bare.yaml'), ['roles:', '  a:', '    members: { principals: [alice] }', '    rules:', '      - { resource: topic, name: orders, operations: [Read] }', ''].join('\n'));
    const r = await cli(['lint', join(dir, 'bare.yaml'), '--config', multi, '--offline']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('unqualified-principal: role a: principal "alice" matches no one');
  });
});

describe('gatehouse policy lint', () => {
  it('lints the demo policy against known names: patterns that match nothing, exit 1', async () => {
    const r = await cli(['lint', join(dir, 'policy.yaml'), '--topics', 'payments_in,orders', '--groups', 'payments-workers']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('matches-nothing: analytics/1');
    expect(r.out).toContain('matches no group');
  });

  it('says so when there is nothing to report', async () => {
    const r = await cli(['lint', join(dir, 'policy.yaml'), '--topics', 'payments_in,__gatehouse_audit', '--groups', 'payments-a,analytics-b,auditors-c']);
    expect(r.out).toBe('no findings\n');
    expect(r.code).toBe(0);
  });
});
