import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { credentialApisFromConfig } from './credential-apis.js';

const upstream = { bootstrap: ['kafka:9092'] };

describe('broker-credential APIs from the config', () => {
  it('are off by default; the upstream SASL user (PLAIN or SCRAM) is the protected account', () => {
    const scram = parseConfig({ upstream: { ...upstream, sasl: { mechanism: 'SCRAM-SHA-512', username: 'gatehouse', password: 'pw' } }, policy: { file: 'p.yaml' } });
    expect(credentialApisFromConfig(scram)).toEqual({ delegationTokens: false, scramCredentials: false, protectedUsers: ['gatehouse'] });
    expect(credentialApisFromConfig(parseConfig({ upstream })).protectedUsers).toEqual([]);
    const oauth = parseConfig({ upstream: { ...upstream, sasl: { mechanism: 'OAUTHBEARER', tokenEndpoint: 'https://idp/token', clientId: 'gh', clientSecret: 's' } } });
    expect(credentialApisFromConfig(oauth).protectedUsers).toEqual([]);
  });

  it('are turned on one family at a time under policy.brokerCredentialApis', () => {
    const on = parseConfig({ upstream, policy: { file: 'p.yaml', brokerCredentialApis: { scramCredentials: true } } });
    expect(credentialApisFromConfig(on)).toMatchObject({ delegationTokens: false, scramCredentials: true });
    expect(() => parseConfig({ upstream, policy: { file: 'p.yaml', brokerCredentialApis: { tokens: true } } })).toThrow(/tokens/);
  });
});
