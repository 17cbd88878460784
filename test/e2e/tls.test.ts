/**
 * TLS end to end, with certificates from a throwaway CA (src/sandbox/certs.ts):
 *  - SASL_SSL all the way: kafkajs (OAUTHBEARER with real OIDC tokens, the CA as trust) on the
 *    proxy's TLS listener set, the proxy on TLS to a broker's SSL listener (upstream.tls with the
 *    CA file); every broker address a TLS client is given is a TLS listener of the proxy, and the
 *    plaintext set keeps giving plaintext ones;
 *  - certificate reload: a mismatched pair is refused and the old certificate stays, a good new
 *    pair serves new connections while an old connection carries on;
 *  - mTLS required: no certificate, or one from another CA, fails the handshake; a valid one
 *    authenticates the connection as its CN (identity.mtls) without SASL;
 *  - mTLS requested: no certificate is fine, one from another CA is not;
 *  - upstream.tls with upstream.sasl against a SASL_SSL listener; with the wrong CA the broker's
 *    certificate is refused;
 *  - `gatehouse run` with TLS file paths relative to the config file: kcat over SSL; a key that
 *    does not fit stops the start with a configuration error.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import kafkajs from 'kafkajs';
import { ApiKey } from '../../protocol/generated/index.js';
import { getPrincipal, type Principal } from '../../src/identity/index.js';
import { startBroker, type Broker } from '../../src/kafka/index.js';
import { isResponse, type InterceptedRequest, type InterceptedResponse, type Stage } from '../../src/stage/stage.js';
import { createCertificateAuthority, type CertFiles, type CertificateAuthority } from '../../src/sandbox/certs.js';
import { createTopics, kcat, kcatBrokers, portOf, requestFrame, run, uniqueName, waitFor } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');
const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'bin', 'gatehouse.mjs');

/** Broker addresses in Metadata responses, by whether the connection came in over TLS; and the principal of each forwarded request. */
class TlsRecorder implements Stage {
  readonly name = 'tls-recorder';
  readonly interest = { requests: 'all' as const, responses: new Set<number>([ApiKey.Metadata]) };
  readonly ports = { tls: new Set<number>(), plain: new Set<number>() };
  readonly forwarded: Array<{ api: string; principal: Principal | undefined; peerSubject: string | undefined; protocol: string | undefined }> = [];
  onRequest(req: InterceptedRequest): void {
    this.forwarded.push({ api: req.header.apiName, principal: getPrincipal(req.connection), peerSubject: req.connection.tls?.peerSubject, protocol: req.connection.tls?.protocol });
  }
  onResponse(res: InterceptedResponse): void {
    if (!isResponse(res, ApiKey.Metadata)) return;
    for (const b of res.body().brokers) (res.connection.tls ? this.ports.tls : this.ports.plain).add(b.port);
  }
}

/** Opens a TLS connection; resolves with the socket once the handshake is done (and the server did not close at once). */
function openTls(address: string, opts: { ca: string; cert?: CertFiles }): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port: portOf(address),
      ca: opts.ca,
      ...(opts.cert ? { cert: readFileSync(opts.cert.certFile), key: readFileSync(opts.cert.keyFile) } : {}),
    });
    s.once('error', reject);
    s.once('close', () => reject(new Error('closed')));
    // TLS 1.3: a client certificate is judged after the client's handshake completes, so wait for a first answer.
    s.once('secureConnect', () => {
      s.write(requestFrame(ApiKey.ApiVersions, 0, Buffer.alloc(0)));
      s.once('data', () => resolve(s));
    });
  });
}

/** An ApiVersions round trip on an open socket. */
function apiVersionsOn(s: TLSSocket): Promise<number> {
  return new Promise((resolve, reject) => {
    s.once('data', (b: Buffer) => resolve(b.length));
    s.once('error', reject);
    s.write(requestFrame(ApiKey.ApiVersions, 0, Buffer.alloc(0), { correlationId: 9 }));
  });
}

const serialOf = (s: TLSSocket) => s.getPeerX509Certificate()!.serialNumber;
const listenerPorts = (gh: TestProxy, prefix: string) =>
  gh.logs.filter((l) => l.msg === 'listening' && String(l.listener).startsWith(prefix)).map((l) => l.port as number);

describe('TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-tls-'));
  let ca: CertificateAuthority;
  let other: CertificateAuthority;
  let caPem: string;
  let server: CertFiles;
  let server2: CertFiles;
  let client: CertFiles;
  let stranger: CertFiles;
  let oidc: TestOidc;
  let sslBroker: Broker;
  let gh: TestProxy;
  const recorder = new TlsRecorder();
  // The proxy reads its certificate from these paths; the reload test overwrites them.
  const live = { certFile: join(dir, 'live.pem'), keyFile: join(dir, 'live.key') };

  beforeAll(async () => {
    ca = await createCertificateAuthority(join(dir, 'ca'));
    other = await createCertificateAuthority(join(dir, 'other'), '/CN=Some other CA');
    caPem = readFileSync(ca.certFile, 'utf8');
    const host = { dns: ['localhost'], ips: ['127.0.0.1'] };
    [server, server2, client, stranger] = await Promise.all([
      ca.issue({ name: 'server', subject: '/CN=localhost', ...host }),
      ca.issue({ name: 'server2', subject: '/CN=localhost', ...host }),
      ca.issue({ name: 'client', subject: '/O=Example/OU=payments-team/CN=payments-app' }),
      other.issue({ name: 'stranger', subject: '/OU=payments-team/CN=payments-app' }),
    ]);
    copyFileSync(server.certFile, live.certFile);
    copyFileSync(server.keyFile, live.keyFile);
    // Kafka's PEM key store: the private key and the certificate in one file.
    const brokerPem = join(dir, 'broker-keystore.pem');
    writeFileSync(brokerPem, readFileSync(server.keyFile, 'utf8') + readFileSync(server.certFile, 'utf8'));
    const keystore = { 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': brokerPem };
    [oidc, sslBroker] = await Promise.all([
      startOidc(),
      startBroker({
        listeners: [
          { name: 'SSL', securityProtocol: 'SSL', props: keystore },
          {
            name: 'SASL_SSL',
            securityProtocol: 'SASL_SSL',
            props: {
              ...keystore,
              'sasl.enabled.mechanisms': 'PLAIN',
              'plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_gatehouse="upstream-secret";',
            },
          },
        ],
      }),
    ]);
    gh = await startProxy(
      sslBroker.endpoints.SSL!,
      {
        listen: { tls: { bootstrapPort: 0, brokerPortBase: 0, ...live, reloadCheckMs: 200 } },
        upstream: { tls: { caFile: ca.certFile } },
        identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      },
      { extraStages: [recorder] },
    );
  });
  afterAll(async () => {
    await gh?.stop();
    await Promise.all([oidc?.stop(), sslBroker?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const sslClient = (bootstrap: string, ssl: object | undefined) =>
    new Kafka({
      clientId: 'tls-e2e',
      brokers: [bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      ...(ssl ? { ssl } : {}),
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await oidc.token('payments-app') }) },
    });

  it('SASL_SSL through the proxy to a broker SSL listener: kafkajs round-trips records and is only ever told TLS ports', async () => {
    const tlsBootstrap = gh.proxy.tlsBootstrap!;
    expect(portOf(tlsBootstrap)).not.toBe(portOf(gh.bootstrap));
    const kafka = sslClient(tlsBootstrap, { ca: [caPem] });
    const topic = uniqueName('tls');
    const admin = kafka.admin();
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 1 }]);
    // A broker's own listeners, as DescribeConfigs shows them, are the TLS set's too.
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['listeners', 'advertised.listeners'] }],
    });
    const listenerValues = described.resources[0]!.configEntries.map((e) => e.configValue);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'over tls 1' }, { value: 'over tls 2' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: uniqueName('tls-group') });
    const got: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(String(message.value)) });
    await waitFor('both records', () => got.length >= 2);
    await consumer.disconnect();
    expect(got).toEqual(['over tls 1', 'over tls 2']);

    // The same proxy's plaintext set (SASL_PLAINTEXT) answers with plaintext ports.
    const plainAdmin = sslClient(gh.bootstrap, undefined).admin();
    await plainAdmin.connect();
    expect(await plainAdmin.listTopics()).toContain(topic);
    await plainAdmin.disconnect();

    const tlsPorts = listenerPorts(gh, 'tls-broker-');
    const plainPorts = listenerPorts(gh, 'broker-');
    expect(tlsPorts.length).toBeGreaterThan(0);
    expect([...recorder.ports.tls].every((p) => tlsPorts.includes(p)), `TLS clients were told ${[...recorder.ports.tls]}`).toBe(true);
    expect([...recorder.ports.plain].every((p) => plainPorts.includes(p)), `plaintext clients were told ${[...recorder.ports.plain]}`).toBe(true);
    expect(recorder.ports.tls.size).toBeGreaterThan(0);
    expect(recorder.ports.plain.size).toBeGreaterThan(0);
    expect(listenerValues).toHaveLength(2);
    for (const v of listenerValues) expect(v).toMatch(new RegExp(`^(\\w+://127\\.0\\.0\\.1:(${tlsPorts.join('|')}),?)+$`));
    // Stages see the TLS session; the principal came from SASL.
    const overTls = recorder.forwarded.filter((f) => f.protocol !== undefined && f.api === 'Produce');
    expect(overTls.length).toBeGreaterThan(0);
    expect(overTls[0]!.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(overTls[0]!.principal?.name).toBe('payments-app');
    // The proxy reached the broker over TLS: its real address is the SSL listener's.
    expect(gh.logs.some((l) => l.msg === 'learned broker' && l.upstream === sslBroker.endpoints.SSL)).toBe(true);
  });

  it('reloads a changed certificate for new connections, keeps a mismatched pair out and old connections open', async () => {
    const oldSerial = new X509Certificate(readFileSync(server.certFile)).serialNumber;
    const newSerial = new X509Certificate(readFileSync(server2.certFile)).serialNumber;
    const before = await openTls(gh.proxy.tlsBootstrap!, { ca: caPem });
    try {
      expect(serialOf(before)).toBe(oldSerial);
      // Half-way through a rotation: the new certificate with the old key.
      copyFileSync(server2.certFile, live.certFile);
      await waitFor('the failed reload in the log', () => gh.logs.some((l) => l.msg === 'tls certificate reload failed; the previous certificate stays in service'));
      const during = await openTls(gh.proxy.tlsBootstrap!, { ca: caPem });
      expect(serialOf(during)).toBe(oldSerial);
      during.destroy();
      copyFileSync(server2.keyFile, live.keyFile);
      await waitFor('the reload in the log', () => gh.logs.some((l) => l.msg === 'tls certificate reloaded' && l.serial === newSerial));
      const after = await openTls(gh.proxy.tlsBootstrap!, { ca: caPem });
      expect(serialOf(after)).toBe(newSerial);
      after.destroy();
      // Broker listeners of the TLS set switch too.
      const brokerPort = listenerPorts(gh, 'tls-broker-')[0]!;
      const direct = await openTls(`127.0.0.1:${brokerPort}`, { ca: caPem });
      expect(serialOf(direct)).toBe(newSerial);
      direct.destroy();
      // The connection opened before the rotation still works.
      expect(await apiVersionsOn(before)).toBeGreaterThan(8);
    } finally {
      before.destroy();
    }
  });

  describe('mTLS required, client certificates as identities', () => {
    let mtls: TestProxy;
    const seen = new TlsRecorder();

    beforeAll(async () => {
      mtls = await startProxy(
        kafkaBootstrap,
        {
          listen: { tls: { bootstrapPort: 0, brokerPortBase: 0, ...server, caFile: ca.certFile, clientAuth: 'required' } },
          identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }], mtls: { principalFrom: 'CN', groupsFrom: 'OU' } },
        },
        { extraStages: [seen] },
      );
    });
    afterAll(async () => {
      await mtls?.stop();
    });

    it('refuses a handshake without a client certificate or with one from another CA', async () => {
      await expect(openTls(mtls.proxy.tlsBootstrap!, { ca: caPem })).rejects.toThrow();
      await expect(openTls(mtls.proxy.tlsBootstrap!, { ca: caPem, cert: stranger })).rejects.toThrow();
      await waitFor('handshake failures in the log', () => mtls.logs.filter((l) => l.msg === 'tls handshake failed').length >= 2);
      expect(mtls.logs.some((l) => l.msg === 'client connected' && String(l.listener).startsWith('tls-'))).toBe(false);
    });

    it('authenticates a valid client certificate as its CN, with groups from OU, without SASL', async () => {
      const kafka = new Kafka({
        clientId: 'mtls-e2e',
        brokers: [mtls.proxy.tlsBootstrap!],
        logLevel: logLevel.NOTHING,
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
        ssl: { ca: [caPem], cert: readFileSync(client.certFile, 'utf8'), key: readFileSync(client.keyFile, 'utf8') },
      });
      const topic = uniqueName('mtls');
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'signed' }] });
      await producer.disconnect();

      const authed = mtls.logs.filter((l) => l.msg === 'client authenticated');
      expect(authed.length).toBeGreaterThan(0);
      // Next to an issuer, a certificate's principal is named mtls:<CN>.
      expect(authed[0]).toMatchObject({ principal: 'mtls:payments-app', groups: ['payments-team'], mechanism: 'MTLS' });
      const produce = seen.forwarded.find((f) => f.api === 'Produce');
      expect(produce?.principal).toMatchObject({ name: 'mtls:payments-app', source: 'mtls', mechanism: 'MTLS', groups: ['payments-team'] });
      expect(produce?.principal?.issuer).toContain('CN=Gatehouse sandbox CA');
      expect(produce?.peerSubject).toBe('CN=payments-app,OU=payments-team,O=Example');
    });
  });

  it('mTLS requested: a client without a certificate is served, one with an untrusted certificate is not', async () => {
    const requested = await startProxy(kafkaBootstrap, {
      listen: { tls: { bootstrapPort: 0, brokerPortBase: 0, ...server, caFile: ca.certFile, clientAuth: 'requested' } },
    });
    try {
      const anonymous = await openTls(requested.proxy.tlsBootstrap!, { ca: caPem });
      expect(await apiVersionsOn(anonymous)).toBeGreaterThan(8);
      anonymous.destroy();
      const known = await openTls(requested.proxy.tlsBootstrap!, { ca: caPem, cert: client });
      known.destroy();
      await expect(openTls(requested.proxy.tlsBootstrap!, { ca: caPem, cert: stranger })).rejects.toThrow();
      await waitFor('the rejection in the log', () => requested.logs.some((l) => l.msg === 'client certificate rejected'));
      const connected = requested.logs.filter((l) => l.msg === 'client connected');
      expect(connected.map((l) => (l.tls as { peerSubject?: string }).peerSubject)).toEqual([undefined, 'CN=payments-app,OU=payments-team,O=Example']);
    } finally {
      await requested.stop();
    }
  });

  it('upstream.tls with upstream.sasl: the proxy logs in over TLS to a SASL_SSL listener', async () => {
    const saslSsl = await startProxy(sslBroker.endpoints.SASL_SSL!, {
      upstream: { tls: { caFile: ca.certFile, servername: 'localhost' }, sasl: { mechanism: 'PLAIN', username: 'gatehouse', password: 'upstream-secret' } },
    });
    try {
      const topic = uniqueName('sasl-ssl');
      const producer = new Kafka({ clientId: 'sasl-ssl', brokers: [saslSsl.bootstrap], logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'logged in over tls' }] });
      await producer.disconnect();
      expect(saslSsl.logs.some((l) => l.msg === 'learned broker' && l.upstream === sslBroker.endpoints.SASL_SSL)).toBe(true);
      expect(saslSsl.logs.filter((l) => l.code === 'GH_UPSTREAM_AUTH')).toEqual([]);
    } finally {
      await saslSsl.stop();
    }
  });

  it('gatehouse run: TLS files relative to the config file, kcat (SSL) round-trips; a wrong key stops the start', async () => {
    const etc = join(dir, 'etc');
    mkdirSync(join(etc, 'tls'), { recursive: true });
    copyFileSync(server.certFile, join(etc, 'tls', 'proxy.pem'));
    copyFileSync(server.keyFile, join(etc, 'tls', 'proxy.key'));
    const config = (keyFile: string) =>
      [
        'listen:',
        '  host: 127.0.0.1',
        '  advertisedHost: 127.0.0.1',
        '  bootstrapPort: 0',
        '  brokerPortBase: 0',
        `  tls: { bootstrapPort: 0, brokerPortBase: 0, certFile: tls/proxy.pem, keyFile: ${keyFile} }`,
        `upstream: { bootstrap: ["${kafkaBootstrap}"] }`,
        '',
      ].join('\n');
    writeFileSync(join(etc, 'bad.yaml'), config(server2.keyFile));
    const bad = await run(process.execPath, [bin, 'run', '--config', join(etc, 'bad.yaml')], { timeoutMs: 30_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid configuration in .*proxy\.pem:\n\s+listen\.tls: cannot load certFile, keyFile: .*key values mismatch/);

    writeFileSync(join(etc, 'gatehouse.yaml'), config('tls/proxy.key'));
    // From another working directory: the paths are the config file's.
    const child = spawn(process.execPath, [bin, 'run', '--config', join(etc, 'gatehouse.yaml')], { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const tlsBootstrap = await waitFor('gatehouse ready', () => /"tlsBootstrap":"([^"]+)".*gatehouse ready/.exec(out)?.[1], { timeoutMs: 30_000 });
      const ssl = ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${ca.certFile}`];
      const topic = uniqueName('tls-cli');
      const produced = await kcat(tlsBootstrap, [...ssl, '-P', '-t', topic], { input: 'one\ntwo\n' });
      expect(produced.code, produced.stderr).toBe(0);
      const consumed = await kcat(tlsBootstrap, [...ssl, '-C', '-t', topic, '-o', 'beginning', '-c', '2', '-e']);
      expect(consumed.code, consumed.stderr).toBe(0);
      expect(consumed.stdout.split('\n').filter(Boolean)).toEqual(['one', 'two']);
      const md = await kcat(tlsBootstrap, [...ssl, '-L']);
      const plainBootstrap = /"bootstrap":"([^"]+)"/.exec(out)![1]!;
      expect(kcatBrokers(md.stdout).map((b) => b.port)).not.toContain(portOf(plainBootstrap));
      expect(out).toContain('tls certificate loaded');
    } finally {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
  });

  it('upstream.tls refuses a broker whose certificate does not chain to the CA file', async () => {
    const wrong = await startProxy(sslBroker.endpoints.SSL!, { upstream: { tls: { caFile: other.certFile }, connectTimeoutMs: 5000 } });
    try {
      const admin = new Kafka({ clientId: 'wrong-ca', brokers: [wrong.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
      await expect(admin.connect().then(() => admin.listTopics())).rejects.toThrow();
      await admin.disconnect().catch(() => undefined);
      await waitFor('the refused upstream in the log', () =>
        wrong.logs.some((l) => l.code === 'GH_UPSTREAM_UNREACHABLE' && /over TLS: .*(certificate|self.signed)/i.test(String(l.reason))),
      );
    } finally {
      await wrong.stop();
    }
  });
});
