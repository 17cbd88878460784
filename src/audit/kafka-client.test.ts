import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config/load.js';
import { createCertificateAuthority, type CertFiles, type CertificateAuthority } from '../sandbox/certs.js';
import { auditTls } from './kafka-client.js';

describe('audit Kafka client: TLS from upstream.tls', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-audit-tls-unit-'));
  let ca: CertificateAuthority;
  let client: CertFiles;
  beforeAll(async () => {
    ca = await createCertificateAuthority(join(dir, 'ca'));
    client = await ca.issue({ name: 'proxy', subject: '/CN=gatehouse' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const config = (tls: object | undefined, audit: object = {}) =>
    parseConfig({ upstream: { bootstrap: ['kafka:9093'], ...(tls ? { tls } : {}) }, audit }, 'test', {});

  it('uses the CA bundle, client certificate, servername and verification of the proxy\'s broker connections', () => {
    const ssl = auditTls(config({ caFile: ca.certFile, certFile: client.certFile, keyFile: client.keyFile, servername: 'kafka.internal' }));
    expect(ssl).toEqual({
      ca: readFileSync(ca.certFile, 'utf8'),
      cert: readFileSync(client.certFile, 'utf8'),
      key: readFileSync(client.keyFile, 'utf8'),
      servername: 'kafka.internal',
      rejectUnauthorized: true,
    });
    expect(auditTls(config({ insecureSkipVerify: true }))).toEqual({ rejectUnauthorized: false });
  });

  it('plaintext without upstream.tls, or with audit.useUpstreamTls: false (an audit cluster of its own)', () => {
    expect(auditTls(config(undefined))).toBeUndefined();
    expect(auditTls(config({ caFile: ca.certFile }, { useUpstreamTls: false }))).toBeUndefined();
  });

  it('a file that cannot be read, or a key that does not fit, is a configuration error, as for the proxy', () => {
    expect(() => auditTls(config({ caFile: join(dir, 'missing.pem') }))).toThrow(ConfigError);
    const badKey = join(dir, 'bad.key');
    writeFileSync(badKey, 'not a key');
    expect(() => auditTls(config({ certFile: client.certFile, keyFile: badKey }))).toThrow(ConfigError);
  });
});
