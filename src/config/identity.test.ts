import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from './load.js';

const upstream = { bootstrap: ['127.0.0.1:9092'] };

describe('config: identity', () => {
  it('is absent unless given', () => {
    expect(parseConfig({ upstream }).identity).toBeUndefined();
  });

  it('fills defaults for an issuer', () => {
    const c = parseConfig({ upstream, identity: { issuers: [{ issuer: 'https://idp.example/realms/k', audience: 'gatehouse' }] } });
    expect(c.identity).toMatchObject({
      mechanisms: ['OAUTHBEARER', 'PLAIN'],
      clockToleranceSec: 30,
      jwksCooldownMs: 30_000,
      issuers: [{ issuer: 'https://idp.example/realms/k', audience: 'gatehouse', principalClaim: 'sub', groupsClaim: 'groups', acceptPlainJwtAccessTokens: false }],
    });
    expect(c.identity!.algorithms).not.toContain('HS256');
  });

  it('refuses symmetric algorithms, unknown mechanisms, duplicate issuers and unknown keys', () => {
    const issuers = [{ issuer: 'https://idp.example', audience: 'a' }];
    expect(() => parseConfig({ upstream, identity: { issuers, algorithms: ['HS256'] } })).toThrow(/identity\.algorithms\.0/);
    expect(() => parseConfig({ upstream, identity: { issuers, algorithms: ['none'] } })).toThrow(/identity\.algorithms\.0/);
    expect(() => parseConfig({ upstream, identity: { issuers, mechanisms: ['SCRAM-SHA-256'] } })).toThrow(/identity\.mechanisms\.0/);
    expect(() => parseConfig({ upstream, identity: { issuers: [...issuers, ...issuers] } })).toThrow(/each issuer may appear once/);
    expect(() => parseConfig({ upstream, identity: { issuers: [{ ...issuers[0], audiance: 'x' }] } })).toThrow(/unknown key "audiance"/);
    expect(() => parseConfig({ upstream, identity: { issuers: [] } })).toThrow(/identity\.issuers/);
  });

  it('takes acceptPlainJwtAccessTokens per issuer (default: only at+jwt access tokens)', () => {
    const c = parseConfig({
      upstream,
      identity: { issuers: [{ issuer: 'https://kc.example/realms/k', name: 'kc', audience: 'gatehouse', acceptPlainJwtAccessTokens: true }, { issuer: 'https://idp.example', name: 'idp', audience: 'g' }] },
    });
    expect(c.identity!.issuers.map((i) => i.acceptPlainJwtAccessTokens)).toEqual([true, false]);
    expect(() => parseConfig({ upstream, identity: { issuers: [{ issuer: 'https://idp.example', audience: 'g', acceptPlainJwtAccessTokens: 'yes' }] } })).toThrow(
      /identity\.issuers\.0\.acceptPlainJwtAccessTokens/,
    );
  });

  it('reads from YAML with environment variables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-identity-'));
    const file = join(dir, 'g.yaml');
    writeFileSync(
      file,
      ['upstream:', '  bootstrap: ["k:9092"]', 'identity:', '  issuers:', '    - issuer: ${IDP}', '      audience: [gatehouse, kafka]', '      groupsClaim: realm_access.roles', '  mechanisms: [OAUTHBEARER]', ''].join('\n'),
    );
    const c = loadConfigFile(file, { IDP: 'https://idp.example' });
    expect(c.identity!.issuers[0]).toMatchObject({ issuer: 'https://idp.example', audience: ['gatehouse', 'kafka'], groupsClaim: 'realm_access.roles' });
    expect(c.identity!.mechanisms).toEqual(['OAUTHBEARER']);
  });
});

describe('config: identity introspection and service accounts', () => {
  const hash = `scrypt$32768$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`;

  it('takes introspection per issuer, with cache defaults', () => {
    const c = parseConfig({ upstream, identity: { issuers: [{ issuer: 'https://idp.example', audience: 'g', introspection: { clientId: 'gatehouse', clientSecret: 's' } }] } });
    expect(c.identity!.issuers[0]!.introspection).toEqual({ clientId: 'gatehouse', clientSecret: 's', always: false });
    expect(c.identity).toMatchObject({ introspectionCacheMs: 60_000, introspectionCacheEntries: 10_000 });
    expect(() => parseConfig({ upstream, identity: { issuers: [{ issuer: 'https://idp.example', audience: 'g', introspection: { clientId: 'g' } }] } })).toThrow(/introspection\.clientSecret/);
  });

  it('takes service accounts alone, needs PLAIN for them, and checks the hash format', () => {
    const c = parseConfig({ upstream, identity: { serviceAccounts: [{ name: 'billing', secretHash: hash }] } });
    expect(c.identity).toMatchObject({ issuers: [], serviceAccounts: [{ name: 'billing', secretHash: hash, groups: [] }] });
    expect(() => parseConfig({ upstream, identity: {} })).toThrow(/needs at least one issuer or service account/);
    expect(() => parseConfig({ upstream, identity: { serviceAccounts: [{ name: 'b', secretHash: hash }], mechanisms: ['OAUTHBEARER'] } })).toThrow(/service accounts log in with PLAIN/);
    expect(() => parseConfig({ upstream, identity: { serviceAccounts: [{ name: 'b', secretHash: 'hunter2' }] } })).toThrow(/identity\.serviceAccounts\.0\.secretHash: expected scrypt/);
    expect(() => parseConfig({ upstream, identity: { serviceAccounts: [{ name: 'b', secretHash: hash }, { name: 'b', secretHash: hash }] } })).toThrow(/each service account name may appear once/);
  });

  it('bounds service-account secret checks by default, and takes other bounds', () => {
    const c = parseConfig({ upstream, identity: { serviceAccounts: [{ name: 'billing', secretHash: hash }] } });
    expect(c.identity!.serviceAccountChecks).toEqual({ maxInFlight: 2, perSecond: 20 });
    const d = parseConfig({ upstream, identity: { serviceAccounts: [{ name: 'billing', secretHash: hash }], serviceAccountChecks: { perSecond: 100 } } });
    expect(d.identity!.serviceAccountChecks).toEqual({ maxInFlight: 2, perSecond: 100 });
    expect(() => parseConfig({ upstream, identity: { serviceAccounts: [{ name: 'b', secretHash: hash }], serviceAccountChecks: { maxInFlight: 0 } } })).toThrow(/serviceAccountChecks\.maxInFlight/);
  });
});

describe('config: identity sources and issuer names', () => {
  const hash = `scrypt$32768$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`;
  const idp = { issuer: 'https://idp.example', audience: 'g' };
  const partner = { issuer: 'https://partner.example', audience: 'g' };

  it('needs a name for each of several issuers, unique, without ":" and not local or mtls', () => {
    expect(() => parseConfig({ upstream, identity: { issuers: [idp, partner] } })).toThrow(/identity\.issuers\.0\.name: with several issuers each needs a name/);
    expect(() => parseConfig({ upstream, identity: { issuers: [{ ...idp, name: 'corp' }, partner] } })).toThrow(/identity\.issuers\.1\.name: with several issuers each needs a name/);
    expect(() => parseConfig({ upstream, identity: { issuers: [{ ...idp, name: 'corp' }, { ...partner, name: 'corp' }] } })).toThrow(/identity\.issuers\.1\.name: issuer name "corp" is taken/);
    expect(() => parseConfig({ upstream, identity: { issuers: [{ ...idp, name: 'corp:eu' }] } })).toThrow(/identity\.issuers\.0\.name: issuer names use letters/);
    expect(() => parseConfig({ upstream, identity: { issuers: [{ ...idp, name: 'local' }] } })).toThrow(/identity\.issuers\.0\.name: "local" and "mtls" name the service accounts/);
    expect(() => parseConfig({ upstream, identity: { issuers: [{ ...idp, name: 'mtls' }] } })).toThrow(/identity\.issuers\.0\.name/);
    const c = parseConfig({ upstream, identity: { issuers: [{ ...idp, name: 'corp' }, { ...partner, name: 'partner' }] } });
    expect(c.identity!.issuers.map((i) => i.name)).toEqual(['corp', 'partner']);
  });

  it('a lone issuer may go without a name, next to service accounts too (it is then "oidc")', () => {
    expect(parseConfig({ upstream, identity: { issuers: [idp] } }).identity!.issuers[0]!.name).toBeUndefined();
    expect(() => parseConfig({ upstream, identity: { issuers: [idp], serviceAccounts: [{ name: 'b', secretHash: hash }] } })).not.toThrow();
  });
});
