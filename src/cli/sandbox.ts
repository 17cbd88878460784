/**
 * `gatehouse sandbox`: a real Kafka broker on loopback (resolved from Maven Central on first
 * run), a real OpenID provider on loopback with the demo clients (admin, payments-app,
 * analytics, auditor; secrets generated per run), the proxy in front of the broker with a
 * generated configuration that requires authentication (SASL OAUTHBEARER or PLAIN with an
 * access token from that provider) on a plaintext and a TLS listener set (SASL_PLAINTEXT and
 * SASL_SSL; the TLS certificate comes from a CA generated per run), and instructions for
 * connecting. Ctrl-C stops all of it.
 * Later stages add policy and audit.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../log.js';
import { pipelineFromConfig, type Pipeline } from '../pipeline.js';
import { GatehouseProxy } from '../proxy/server.js';
import { demoClientsWithGeneratedSecrets, startOidcProvider, type OidcProvider } from '../sandbox/oidc-provider.js';
import { startBroker, type Broker } from '../kafka/broker.js';
import { createCertificateAuthority } from '../sandbox/certs.js';
import { oidcClientProperties } from '../sandbox/client-properties.js';
import { demoPolicyYaml } from '../sandbox/demo-policy.js';

/** The audit topic the sandbox's policy protects (and its audit stage writes). */
export const SANDBOX_AUDIT_TOPIC = '__gatehouse_audit';

/**
 * The sandbox's identity, policy and audit sections for a config file in `dir`: tokens of
 * `oidc`, the demo policy (written to `dir`/policy.yaml) and the audit trail on the proxied
 * cluster (spool in `dir`). The benchmark runs its proxy with these too.
 */
export function sandboxSecurityConfig(dir: string, oidc: { issuer: string; audience: string }) {
  writeFileSync(join(dir, 'policy.yaml'), demoPolicyYaml(SANDBOX_AUDIT_TOPIC));
  return {
    identity: {
      issuers: [{ issuer: oidc.issuer, audience: oidc.audience }],
      mechanisms: ['OAUTHBEARER', 'PLAIN'],
    },
    policy: { file: 'policy.yaml' },
    // Every session on the audit topic (gatehouse audit sessions|replay|verify --config <this file>).
    audit: { topic: SANDBOX_AUDIT_TOPIC, spool: { dir: 'audit-spool' }, checkpointIntervalMs: 10_000 },
  };
}

function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host }, () => s.close(() => resolve(true)));
  });
}

/** A bootstrap port whose next port (broker node 1) is free too. */
async function pickPorts(wanted: number): Promise<number> {
  if ((await portFree(wanted)) && (await portFree(wanted + 1))) return wanted;
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 30000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free pair of ports found for the proxy');
}

export interface SandboxState {
  proxy: {
    bootstrap: string;
    securityProtocol: 'SASL_PLAINTEXT';
    /** The TLS listener set: clients trust `caFile` (PEM), the sandbox's generated CA. */
    tls: { bootstrap: string; caFile: string; securityProtocol: 'SASL_SSL' };
  };
  kafka: { bootstrap: string; classpath: string; version: string };
  oidc: {
    issuer: string;
    tokenEndpoint: string;
    clients: Record<string, { clientId: string; clientSecret: string; groups: string[] }>;
  };
  config: string;
  /** The audit topic (read it with `gatehouse audit … --config <config>`). */
  audit: { topic: string };
}

/** The console consumer's option for a properties file: --command-config since Kafka 4.2 (KIP-1147), --consumer.config before. */
function consumerConfigOption(kafkaVersion: string): string {
  const [major = 0, minor = 0] = kafkaVersion.split('.').map(Number);
  return major > 4 || (major === 4 && minor >= 2) ? '--command-config' : '--consumer.config';
}

/** Access tokens of the sandbox's provider live an hour: long enough to paste one into kcat. */
const SANDBOX_TOKEN_TTL_SEC = 3600;

/** Java client properties for OAUTHBEARER with the OIDC client-credentials login (KIP-768). */
function javaClientProperties(tokenEndpoint: string, clientId: string, clientSecret: string): string {
  return `${oidcClientProperties(tokenEndpoint, clientId, clientSecret).join('\n')}\n`;
}

/** The same over TLS (SASL_SSL), trusting the sandbox's CA as a PEM trust store. */
function javaSslClientProperties(tokenEndpoint: string, clientId: string, clientSecret: string, caFile: string): string {
  const lines = oidcClientProperties(tokenEndpoint, clientId, clientSecret, 'SASL_SSL');
  return `${[...lines, 'ssl.truststore.type=PEM', `ssl.truststore.location=${caFile}`].join('\n')}\n`;
}

export async function sandbox(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'state-file': { type: 'string' },
      'kafka-version': { type: 'string' },
      port: { type: 'string' },
    },
  });
  // --port 0: any free ports for the bootstrap and broker listeners (tests, parallel sandboxes).
  const wanted = values.port === undefined ? 9092 : Number(values.port);
  if (!/^\d+$/.test(values.port ?? '9092') || wanted > 65534) {
    process.stderr.write(`gatehouse sandbox: --port must be a port number (0 for any free ports), not "${values.port}"\n`);
    process.exit(2);
  }
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sandbox-'));
  let broker: Broker | undefined;
  let proxy: GatehouseProxy | undefined;
  let pipeline: Pipeline | undefined;
  let oidc: OidcProvider | undefined;
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    out('\nstopping the sandbox…');
    await proxy?.stop(2000).catch(() => undefined);
    await pipeline?.close().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    await oidc?.stop().catch(() => undefined);
    process.exit(code);
  };
  // `on`, not `once`: the broker's reaper (src/kafka/reaper.ts) steps aside only while another
  // listener for the signal is still registered when it runs; with `once` ours is already gone
  // by then, so the reaper SIGKILLed the broker and re-raised the signal, and Ctrl-C ended the
  // sandbox by signal without stopping the proxy and the broker in order.
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    const version = values['kafka-version'] ?? process.env.GATEHOUSE_KAFKA_VERSION ?? '4.3.1';
    out(`starting Apache Kafka ${version} (KRaft, one node, loopback)…`);
    broker = await startBroker({ version });
    out(`kafka is up at ${broker.bootstrap}`);

    oidc = await startOidcProvider({ clients: demoClientsWithGeneratedSecrets(), accessTokenTtlSec: SANDBOX_TOKEN_TTL_SEC });
    out(`openid provider is up at ${oidc.issuer} (clients ${oidc.clients.map((c) => c.clientId).join(', ')})`);

    const port = wanted === 0 ? 0 : await pickPorts(wanted);
    // The TLS set a hundred ports up (9192, broker 1 at 9193 by default).
    const tlsPort = wanted === 0 ? 0 : await pickPorts(wanted + 100);
    const ca = await createCertificateAuthority(join(dir, 'tls'));
    const proxyCert = await ca.issue({ name: 'proxy', subject: '/CN=localhost', dns: ['localhost'], ips: ['127.0.0.1'], days: 7 });
    const configPath = join(dir, 'gatehouse.yaml');
    const policyPath = join(dir, 'policy.yaml');
    const config = {
      listen: {
        host: '127.0.0.1',
        advertisedHost: '127.0.0.1',
        bootstrapPort: port,
        brokerPortBase: port,
        tls: { bootstrapPort: tlsPort, brokerPortBase: tlsPort, certFile: proxyCert.certFile, keyFile: proxyCert.keyFile },
      },
      upstream: { bootstrap: [broker.bootstrap] },
      ...sandboxSecurityConfig(dir, oidc),
      log: { level: '${GATEHOUSE_LOG_LEVEL:-info}' },
    };
    writeFileSync(configPath, `# Generated by gatehouse sandbox\n${stringify(config)}`);
    const parsed = loadConfigFile(configPath);
    const logPath = join(dir, 'gatehouse.log');
    const { openSync } = await import('node:fs');
    const log = createLogger(parsed.log.level, openSync(logPath, 'a'));
    pipeline = await pipelineFromConfig(parsed, log, { configPath });
    await pipeline.start();
    proxy = new GatehouseProxy(parsed, { logger: log, stages: pipeline.stages });
    await proxy.start();

    const bootstrap = `127.0.0.1:${proxy.bootstrapListenerPort}`;
    const tlsBootstrap = `127.0.0.1:${proxy.tlsBootstrapListenerPort}`;
    const state: SandboxState = {
      proxy: { bootstrap, securityProtocol: 'SASL_PLAINTEXT', tls: { bootstrap: tlsBootstrap, caFile: ca.certFile, securityProtocol: 'SASL_SSL' } },
      kafka: { bootstrap: broker.bootstrap, classpath: broker.classpath, version: broker.version },
      oidc: {
        issuer: oidc.issuer,
        tokenEndpoint: oidc.tokenEndpoint,
        clients: Object.fromEntries(oidc.clients.map((c) => [c.clientId, { clientId: c.clientId, clientSecret: c.clientSecret, groups: [...c.groups] }])),
      },
      config: configPath,
      audit: { topic: parsed.audit?.topic ?? SANDBOX_AUDIT_TOPIC },
    };
    // One client.properties per demo client, for Kafka's Java tools.
    const propertiesOf = (clientId: string) => join(dir, `${clientId}.properties`);
    for (const c of oidc.clients) writeFileSync(propertiesOf(c.clientId), javaClientProperties(oidc.tokenEndpoint, c.clientId, c.clientSecret), { mode: 0o600 });
    const sslPropertiesOf = (clientId: string) => join(dir, `${clientId}-ssl.properties`);
    for (const c of oidc.clients) {
      writeFileSync(sslPropertiesOf(c.clientId), javaSslClientProperties(oidc.tokenEndpoint, c.clientId, c.clientSecret, ca.certFile), { mode: 0o600 });
    }

    const demo = oidc.clients.find((c) => c.clientId === 'payments-app')!;
    out();
    out(`gatehouse is ready: clients connect to ${bootstrap} (SASL_PLAINTEXT: OAUTHBEARER, or PLAIN with an access token as password)`);
    out(`  tls     ${tlsBootstrap} (SASL_SSL, same mechanisms; trust the sandbox CA ${ca.certFile})`);
    out(`  config  ${configPath}`);
    out(`  policy  ${policyPath} (edit it: the proxy reloads it; roles admin, payments-app, analytics, auditor)`);
    out(`  logs    ${logPath}`);
    out(`  openid  ${oidc.issuer} (token endpoint ${oidc.tokenEndpoint}, tokens valid ${SANDBOX_TOKEN_TTL_SEC / 60} min)`);
    out();
    out('demo clients (client id / secret / groups):');
    for (const c of oidc.clients) out(`  ${c.clientId.padEnd(13)} ${c.clientSecret}  [${c.groups.join(', ')}]`);
    out();
    out('try it with kcat: get a token (client credentials, HTTP Basic) and pass it as the PLAIN password');
    out(
      `  TOKEN=$(curl -s -u '${demo.clientId}:${demo.clientSecret}' -d grant_type=client_credentials ${oidc.tokenEndpoint} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
    );
    const kcatSasl = `-X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN -X sasl.username=${demo.clientId} -X "sasl.password=$TOKEN"`;
    out(`  kcat -b ${bootstrap} ${kcatSasl} -L`);
    out(`  kcat -b ${tlsBootstrap} ${kcatSasl.replace('SASL_PLAINTEXT', 'SASL_SSL')} -X ssl.ca.location=${ca.certFile} -L     # the same over TLS`);
    out(`  seq 1 10 | kcat -b ${bootstrap} ${kcatSasl} -P -t payments_demo`);
    out(`  kcat -b ${bootstrap} ${kcatSasl} -C -t payments_demo -e`);
    out(`  kcat -b ${bootstrap} ${kcatSasl} -C -t orders -e     # denied: Not authorized to access topics: [orders]`);
    out();
    out("or with Kafka's own tools (same jars as the broker), which fetch and refresh tokens themselves");
    out(`(OAUTHBEARER with the OIDC login handler; ${propertiesOf(demo.clientId)} holds:`);
    for (const line of javaClientProperties(oidc.tokenEndpoint, demo.clientId, demo.clientSecret).trimEnd().split('\n')) out(`    ${line}`);
    out(`and there is one such file per demo client in ${dir}):`);
    out(`  export CLASSPATH='${join(broker.dir, '*')}'`);
    const jvmFlag = `-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${oidc.tokenEndpoint}`;
    out(`  java ${jvmFlag} org.apache.kafka.tools.TopicCommand --bootstrap-server ${bootstrap} --command-config ${propertiesOf(demo.clientId)} --list`);
    out(
      `  java ${jvmFlag} org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server ${bootstrap} ${consumerConfigOption(broker.version)} ${propertiesOf(demo.clientId)} --topic payments_demo --group payments-demo --from-beginning`,
    );
    out();
    out(`over TLS: --bootstrap-server ${tlsBootstrap} --command-config ${sslPropertiesOf(demo.clientId)} (SASL_SSL, the CA as a PEM trust store)`);
    out();
    out(`the audit trail (topic ${state.audit.topic}): npx gatehouse audit sessions --config ${configPath}   (then: audit replay <session>, audit tail, audit verify)`);
    out();
    out('Ctrl-C stops the proxy, the broker and the openid provider.');
    // Last, so that whoever waits for the file finds everything above already printed. It holds
    // the demo secrets, hence owner-only.
    if (values['state-file']) writeFileSync(values['state-file'], `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  } catch (err) {
    process.stderr.write(`gatehouse sandbox: ${(err as Error).message}\n`);
    await stopAll(1);
  }
}
