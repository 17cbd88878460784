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

  it('names bad keys', () => {
    const base = { bootstrap: ['k:9093'] };
    expect(() => parseConfig({ upstream: { ...base, sasl: { mechanism: 'GSSAPI', username: 'u', password: 'p' } } })).toThrow(/upstream\.sasl\.mechanism/);
    expect(() => parseConfig({ upstream: { ...base, sasl: { mechanism: 'PLAIN', username: 'u' } } })).toThrow(/upstream\.sasl\.password: Required/);
    expect(() => parseConfig({ upstream: { ...base, sasl: { mechanism: 'PLAIN', username: 'u', password: 'p', pass: 'x' } } })).toThrow(/unknown key "pass"/);
  });
});
