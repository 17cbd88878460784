import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';
import { withResolvedTlsPaths } from './tls-paths.js';

const upstream = { bootstrap: ['127.0.0.1:9092'] };
const files = { certFile: '/etc/gh/tls.crt', keyFile: '/etc/gh/tls.key' };

describe('config: TLS', () => {
  it('has no TLS unless asked', () => {
    const c = parseConfig({ upstream });
    expect(c.listen.tls).toBeUndefined();
    expect(c.upstream.tls).toBeUndefined();
  });

  it('fills defaults for the TLS listener set', () => {
    expect(parseConfig({ upstream, listen: { tls: files } }).listen.tls).toEqual({
      ...files,
      bootstrapPort: 9093,
      brokerPortBase: 9200,
      clientAuth: 'none',
      reloadCheckMs: 10_000,
    });
  });

  it('needs a CA file for client certificates, and both the certificate and the key', () => {
    expect(() => parseConfig({ upstream, listen: { tls: { ...files, clientAuth: 'required' } } })).toThrow(/listen\.tls\.caFile: caFile is required/);
    expect(parseConfig({ upstream, listen: { tls: { ...files, clientAuth: 'requested', caFile: '/ca.pem' } } }).listen.tls!.clientAuth).toBe('requested');
    expect(() => parseConfig({ upstream, listen: { tls: { certFile: '/c.pem' } } })).toThrow(/listen\.tls\.keyFile/);
    expect(() => parseConfig({ upstream, listen: { tls: { ...files, clientAuth: 'optional' } } })).toThrow(/listen\.tls\.clientAuth/);
    expect(() => parseConfig({ upstream, listen: { tls: { ...files, reloadCheckMs: 10 } } })).toThrow(/listen\.tls\.reloadCheckMs/);
  });

  it('upstream.tls: CA file, client certificate pairs, no unknown keys', () => {
    expect(parseConfig({ upstream: { ...upstream, tls: { caFile: '/ca.pem' } } }).upstream.tls).toEqual({ caFile: '/ca.pem', insecureSkipVerify: false });
    expect(parseConfig({ upstream: { ...upstream, tls: {} } }).upstream.tls).toEqual({ insecureSkipVerify: false });
    expect(() => parseConfig({ upstream: { ...upstream, tls: { certFile: '/c.pem' } } })).toThrow(/upstream\.tls\.keyFile: certFile and keyFile go together/);
    expect(() => parseConfig({ upstream: { ...upstream, tls: { ca: '/ca.pem' } } })).toThrow(/upstream\.tls: unknown key "ca"/);
  });

  it('identity.mtls defaults to the CN and OU groups', () => {
    const identity = { issuers: [{ issuer: 'https://idp.example', audience: 'a' }], mtls: {} };
    expect(parseConfig({ upstream, identity }).identity!.mtls).toEqual({ principalFrom: 'CN', groupsFrom: 'OU' });
    expect(() => parseConfig({ upstream, identity: { ...identity, mtls: { principalFrom: 'SAN' } } })).toThrow(/identity\.mtls\.principalFrom/);
  });

  it("resolves relative TLS paths against the config file's folder", () => {
    const c = parseConfig({ upstream: { ...upstream, tls: { caFile: 'ca/kafka.pem' } }, listen: { tls: { certFile: '/abs/tls.crt', keyFile: 'tls.key' } } });
    const r = withResolvedTlsPaths(c, '/etc/gatehouse/gatehouse.yaml');
    expect(r.listen.tls).toMatchObject({ certFile: '/abs/tls.crt', keyFile: '/etc/gatehouse/tls.key' });
    expect(r.upstream.tls!.caFile).toBe('/etc/gatehouse/ca/kafka.pem');
    expect(c.listen.tls!.keyFile).toBe('tls.key'); // the parsed config is left as it was
    expect(withResolvedTlsPaths(parseConfig({ upstream }), undefined)).toEqual(parseConfig({ upstream }));
  });
});
