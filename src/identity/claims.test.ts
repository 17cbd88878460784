import { describe, expect, it } from 'vitest';
import { claimAt, groupsFrom, principalFrom } from './claims.js';

const claims = {
  sub: 'u-1',
  preferred_username: 'alice',
  groups: ['payments-team', 7, 'ops'],
  scope: 'kafka:read  kafka:write',
  realm_access: { roles: ['admin', 'viewer'] },
  'https://example.com/roles': ['x'],
};

describe('claims', () => {
  it('follows dot paths, preferring an exact key', () => {
    expect(claimAt(claims, 'realm_access.roles')).toEqual(['admin', 'viewer']);
    expect(claimAt(claims, 'https://example.com/roles')).toEqual(['x']);
    expect(claimAt(claims, 'realm_access.missing.deeper')).toBeUndefined();
    expect(claimAt(claims, 'toString')).toBeUndefined();
  });
  it('takes groups from arrays (strings only) and space-separated strings', () => {
    expect(groupsFrom(claims, 'groups')).toEqual(['payments-team', 'ops']);
    expect(groupsFrom(claims, 'scope')).toEqual(['kafka:read', 'kafka:write']);
    expect(groupsFrom(claims, 'realm_access.roles')).toEqual(['admin', 'viewer']);
    expect(groupsFrom(claims, 'nope')).toEqual([]);
  });
  it('takes the principal from a non-empty string claim only', () => {
    expect(principalFrom(claims, 'sub')).toBe('u-1');
    expect(principalFrom(claims, 'preferred_username')).toBe('alice');
    expect(principalFrom(claims, 'groups')).toBeUndefined();
    expect(principalFrom({ sub: '' }, 'sub')).toBeUndefined();
  });
});
