import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.js';
import { PlainConnector } from '../../proxy/upstream.js';
import { upstreamConnectorFromConfig } from './from-config.js';
import { SaslUpstreamConnector } from './sasl-connector.js';

describe('upstream.sasl', () => {
  it('takes the password from the environment and picks the SASL connector', () => {
    const c = parseConfig(
      { upstream: { bootstrap: ['k:9093'], sasl: { mechanism: 'SCRAM-SHA-512', username: 'gatehouse', password: '${UP_PW}' } } },
      'x',
      { UP_PW: 's3cret' },
    );
    expect(c.upstream.sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'gatehouse', password: 's3cret' });
    expect(upstreamConnectorFromConfig(c.upstream)).toBeInstanceOf(SaslUpstreamConnector);
    expect(upstreamConnectorFromConfig(parseConfig({ upstream: { bootstrap: ['k:9092'] } }).upstream)).toBeInstanceOf(PlainConnector);
  });

  it('takes OAUTHBEARER with client credentials', () => {
    const c = parseConfig(
      { upstream: { bootstrap: ['k:9093'], sasl: { mechanism: 'OAUTHBEARER', tokenEndpoint: 'https://idp.example/token', clientId: 'gatehouse', clientSecret: '${SECRET}' } } },
      'x',
      { SECRET: 'cs' },
    );
    expect(c.upstream.sasl).toEqual({ mechanism: 'OAUTHBEARER', tokenEndpoint: 'https://idp.example/token', clientId: 'gatehouse', clientSecret: 'cs' });
    expect(upstreamConnectorFromConfig(c.upstream)).toBeInstanceOf(SaslUpstreamConnector);
    expect(() => parseConfig({ upstream: { bootstrap: ['k:9093'], sasl: { mechanism: 'OAUTHBEARER', clientId: 'g', clientSecret: 's' } } })).toThrow(/upstream\.sasl\.tokenEndpoint: Required/);
    expect(() => parseConfig({ upstream: { bootstrap: ['k:9093'], sasl: { mechanism: 'OAUTHBEARER', tokenEndpoint: 'https://i/t', clientId: 'g', clientSecret: 's', password: 'p' } } })).toThrow(/unknown key "password"/);
  });

  it('names bad keys', () => {
    const base = { bootstrap: ['k:9093'] };
    expect(() => parseConfig({ upstream: { ...base, sasl: { mechanism: 'GSSAPI', username: 'u', password: 'p' } } })).toThrow(/upstream\.sasl\.mechanism/);
    expect(() => parseConfig({ upstream: { ...base, sasl: { mechanism: 'PLAIN', username: 'u' } } })).toThrow(/upstream\.sasl\.password: Required/);
    expect(() => parseConfig({ upstream: { ...base, sasl: { mechanism: 'PLAIN', username: 'u', password: 'p', pass: 'x' } } })).toThrow(/unknown key "pass"/);
  });
});
