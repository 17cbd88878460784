import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { identitySources, principalName, qualifiesNames } from './sources.js';

const upstream = { bootstrap: ['127.0.0.1:9092'] };
const hash = `scrypt$32768$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`;
const identityOf = (identity: unknown) => parseConfig({ upstream, identity }).identity;

describe('identity sources', () => {
  it('lists the issuers by name (a lone one "oidc"), then local and mtls', () => {
    expect(identitySources(undefined)).toEqual([]);
    expect(identitySources(identityOf({ issuers: [{ issuer: 'https://idp.example', audience: 'g' }] }))).toEqual(['oidc']);
    expect(identitySources(identityOf({ issuers: [{ issuer: 'https://idp.example', audience: 'g', name: 'corp' }] }))).toEqual(['corp']);
    const all = identityOf({
      issuers: [
        { issuer: 'https://idp.example', audience: 'g', name: 'corp' },
        { issuer: 'https://partner.example', audience: 'g', name: 'partner' },
      ],
      serviceAccounts: [{ name: 'alice', secretHash: hash }],
      mtls: {},
    });
    expect(identitySources(all)).toEqual(['corp', 'partner', 'local', 'mtls']);
  });

  it('qualifies names only where two sources could give the same one', () => {
    expect(qualifiesNames(identityOf({ issuers: [{ issuer: 'https://idp.example', audience: 'g' }] }))).toBe(false);
    expect(qualifiesNames(identityOf({ serviceAccounts: [{ name: 'alice', secretHash: hash }] }))).toBe(false);
    expect(qualifiesNames(identityOf({ issuers: [{ issuer: 'https://idp.example', audience: 'g' }], serviceAccounts: [{ name: 'alice', secretHash: hash }] }))).toBe(true);
    expect(qualifiesNames(identityOf({ issuers: [{ issuer: 'https://idp.example', audience: 'g' }], mtls: {} }))).toBe(true);
    expect(principalName('corp', 'alice', true)).toBe('corp:alice');
    expect(principalName('corp', 'alice', false)).toBe('alice');
  });
});
