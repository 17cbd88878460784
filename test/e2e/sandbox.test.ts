/**
 * The `gatehouse` command as a user runs it: `--help`, and `gatehouse sandbox` (a Kafka broker
 * of its own, an OpenID provider with the demo clients, and the proxy with a generated
 * configuration that requires authentication) from start to Ctrl-C. kcat with a token fetched
 * from the state file's token endpoint sees only proxy addresses and round trips records; kcat
 * without credentials is refused; an environment variable reaches the proxy through the
 * generated configuration; SIGINT stops everything, broker JVM and provider included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { SandboxState } from '../../src/cli/sandbox.js';
import { canConnect, runTool } from '../../src/kafka/index.js';
import { kcat, kcatBrokers, portOf, run, uniqueName, waitFor } from '../helpers/e2e.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'bin', 'gatehouse.mjs');
const version = inject('kafkaVersion');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pid of the process listening on 127.0.0.1:port, from `ss`. */
async function listenerPid(port: number): Promise<number> {
  const r = await run('ss', ['-tlnpH', `sport = :${port}`]);
  const m = /pid=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`nothing listens on ${port}: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

describe('the gatehouse command', () => {
  it('--help prints the usage and exits 0', async () => {
    const r = await run(process.execPath, [bin, '--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage:/m);
    for (const cmd of ['gatehouse run --config FILE', 'gatehouse sandbox', 'gatehouse check-config FILE', '--state-file FILE', '--port N']) {
      expect(r.stdout).toContain(cmd);
    }
  });

  it('check-config validates the config, its policy file and its TLS files, naming what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-check-config-'));
    const config = join(dir, 'gatehouse.yaml');
    writeFileSync(join(dir, 'policy.yaml'), 'roles:\n  app:\n    rules:\n      - { resource: topic, name: t, operations: [Reed] }\n');
    writeFileSync(config, 'upstream: { bootstrap: ["127.0.0.1:9092"] }\npolicy: { file: policy.yaml }\n');
    const badPolicy = await run(process.execPath, [bin, 'check-config', config]);
    expect(badPolicy.code).toBe(2);
    expect(badPolicy.stderr).toMatch(/policy\.yaml[\s\S]*line 4: roles\.app\.rules\.0\.operations\.0/);
    writeFileSync(join(dir, 'policy.yaml'), 'roles:\n  app:\n    rules:\n      - { resource: topic, name: t, operations: [Read] }\n');
    const good = await run(process.execPath, [bin, 'check-config', config]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toBe(`${config}: ok\n`);
    writeFileSync(config, 'upstream: { bootstrap: ["127.0.0.1:9092"], tls: { caFile: missing-ca.pem } }\n');
    const badTls = await run(process.execPath, [bin, 'check-config', config]);
    expect(badTls.code).toBe(2);
    expect(badTls.stderr).toContain('upstream.tls');
    expect(badTls.stderr).toContain('missing-ca.pem');
    rmSync(dir, { recursive: true, force: true });
  });

  it('sandbox refuses a --port that is not a port number, before starting anything', async () => {
    const r = await run(process.execPath, [bin, 'sandbox', '--port', 'nine']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--port must be a port number');
    expect(r.stdout).not.toContain('starting Apache Kafka');
  });

  describe('sandbox', () => {
    const work = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-sandbox-'));
    const stateFile = join(work, 'state.json');
    let child: ChildProcess | undefined;
    let output = '';
    let sandboxDir: string | undefined;

    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const done = await Promise.race([exited(child), new Promise((r) => setTimeout(r, 30_000, 'timeout'))]);
        if (done === 'timeout') child.kill('SIGKILL'); // its broker's watchdog then ends the JVM
      }
      rmSync(work, { recursive: true, force: true });
      if (sandboxDir) rmSync(sandboxDir, { recursive: true, force: true });
    });

    it('starts Kafka and the proxy, serves kcat (with a token) and Java tools (OIDC login) through the proxy only, and stops everything on SIGINT', async () => {
      child = spawn(process.execPath, [bin, 'sandbox', '--state-file', stateFile, '--port', '0', '--kafka-version', version], {
        cwd: root,
        env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'debug' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
      const early = exited(child).then((e) => {
        throw new Error(`sandbox exited early (${JSON.stringify(e)}):\n${output}`);
      });
      early.catch(() => undefined);

      const state = await Promise.race([
        early,
        waitFor('the state file', () => existsSync(stateFile) && (JSON.parse(readFileSync(stateFile, 'utf8')) as SandboxState), { timeoutMs: 120_000, intervalMs: 200 }),
      ]);
      sandboxDir = dirname(state.config);
      expect(state.proxy.securityProtocol).toBe('SASL_PLAINTEXT');
      expect(state.kafka.version).toBe(version);
      expect(state.proxy.bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(state.proxy.bootstrap).not.toBe(state.kafka.bootstrap);
      expect(output).toContain(`gatehouse is ready: clients connect to ${state.proxy.bootstrap}`);
      expect(state.oidc.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(state.oidc.tokenEndpoint.startsWith(state.oidc.issuer)).toBe(true);
      expect(Object.fromEntries(Object.entries(state.oidc.clients).map(([k, c]) => [k, c.groups]))).toEqual({
        admin: ['platform-admins'],
        'payments-app': ['payments-team'],
        analytics: ['analytics'],
        auditor: ['auditors'],
      });
      for (const [k, c] of Object.entries(state.oidc.clients)) {
        expect(c.clientId).toBe(k);
        expect(c.clientSecret.length).toBeGreaterThanOrEqual(16);
        expect(c.clientSecret).not.toContain(k); // generated, not a fixed demo secret
      }
      expect(readFileSync(state.config, 'utf8')).toContain(`issuer: ${state.oidc.issuer}`);
      const kafkaPort = portOf(state.kafka.bootstrap);
      const brokerPid = await listenerPid(kafkaPort);
      expect(brokerPid).not.toBe(child.pid);

      // A token for payments-app from the token endpoint, as a user gets it with curl.
      const app = state.oidc.clients['payments-app']!;
      const res = await fetch(state.oidc.tokenEndpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      expect(res.status).toBe(200);
      const token = ((await res.json()) as { access_token: string }).access_token;
      expect(token.split('.')).toHaveLength(3);
      const sasl = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', `sasl.username=${app.clientId}`, '-X', `sasl.password=${token}`];

      // Without credentials the proxy refuses kcat.
      const bare = await kcat(state.proxy.bootstrap, ['-L', '-m', '5'], { timeoutMs: 30_000 });
      expect(bare.code).not.toBe(0);
      const oidcPort = portOf(state.oidc.issuer);

      // kcat through the proxy sees only proxy addresses.
      const md = await kcat(state.proxy.bootstrap, [...sasl, '-L']);
      expect(md.code, md.stderr).toBe(0);
      const brokers = kcatBrokers(md.stdout);
      expect(brokers).toHaveLength(1);
      expect(brokers[0]!.host).toBe('127.0.0.1');
      expect(brokers[0]!.port).not.toBe(kafkaPort);
      expect(md.stdout).not.toMatch(new RegExp(`:${kafkaPort}\\b`));

      // A produce/consume round trip on a topic the demo policy gives payments-app.
      const topic = uniqueName('payments_sandbox');
      const records = Array.from({ length: 200 }, (_, i) => `sandbox record ${i}`);
      const produced = await kcat(state.proxy.bootstrap, [...sasl, '-P', '-t', topic], { input: records.join('\n') + '\n' });
      expect(produced.code, produced.stderr).toBe(0);
      const consumed = await kcat(state.proxy.bootstrap, [...sasl, '-C', '-t', topic, '-o', 'beginning', '-e', '-q']);
      expect(consumed.code, consumed.stderr).toBe(0);
      expect(consumed.stdout.split('\n').slice(0, -1)).toEqual(records);
      // ... and none other: the demo policy denies it with Kafka's own error.
      const denied = await kcat(state.proxy.bootstrap, [...sasl, '-P', '-t', uniqueName('orders')], { input: 'nope\n' });
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toMatch(/authoriz/i);

      // The audit trail: the state file names its topic, and `gatehouse audit sessions` with the
      // generated config finds the session that produced the records, as payments-app.
      expect(state.audit).toEqual({ topic: '__gatehouse_audit' });
      expect(output).toContain(`gatehouse audit sessions --config ${state.config}`);
      await waitFor('the producing session in the audit trail', async () => {
        const r = await run(process.execPath, [bin, 'audit', 'sessions', '--config', state.config, '--json', '--topic', topic]);
        return r.code === 0 && r.stdout.split('\n').filter(Boolean).some((l) => (JSON.parse(l) as { principal: string | null }).principal === 'payments-app');
      }, { timeoutMs: 30_000, intervalMs: 1000 });

      // Kafka's Java tools with the generated properties file (OIDC login handler) and the printed JVM flag.
      const props = join(sandboxDir, 'payments-app.properties');
      expect(output).toContain(props);
      expect(output).toContain(`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${state.oidc.tokenEndpoint}`);
      const listed = await runTool(state.kafka.classpath, 'topics', ['--bootstrap-server', state.proxy.bootstrap, '--command-config', props, '--list'], {
        jvmArgs: [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${state.oidc.tokenEndpoint}`],
        timeoutMs: 60_000,
      });
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout.split('\n')).toContain(topic);

      // The TLS listener set (SASL_SSL) with the generated CA: kcat reads the records back,
      // following TLS broker addresses, and Kafka's tools work with the generated -ssl.properties.
      const tls = state.proxy.tls;
      expect(tls.securityProtocol).toBe('SASL_SSL');
      expect(output).toContain(`${tls.bootstrap} (SASL_SSL`);
      const overTls = ['-X', 'security.protocol=SASL_SSL', '-X', `ssl.ca.location=${tls.caFile}`, ...sasl.slice(2)];
      const tlsMd = await kcat(tls.bootstrap, [...overTls, '-L']);
      expect(tlsMd.code, tlsMd.stderr).toBe(0);
      const tlsBrokers = kcatBrokers(tlsMd.stdout);
      expect(tlsBrokers).toHaveLength(1);
      expect([kafkaPort, brokers[0]!.port]).not.toContain(tlsBrokers[0]!.port);
      const tlsConsumed = await kcat(tls.bootstrap, [...overTls, '-C', '-t', topic, '-o', 'beginning', '-e', '-q']);
      expect(tlsConsumed.code, tlsConsumed.stderr).toBe(0);
      expect(tlsConsumed.stdout.split('\n').slice(0, -1)).toEqual(records);
      const untrusting = await kcat(tls.bootstrap, [...sasl.slice(2), '-X', 'security.protocol=SASL_SSL', '-L', '-m', '5'], { timeoutMs: 30_000 });
      expect(untrusting.code).not.toBe(0); // the sandbox CA is not in the system's trust store
      const tlsListed = await runTool(state.kafka.classpath, 'topics', ['--bootstrap-server', tls.bootstrap, '--command-config', join(sandboxDir, 'payments-app-ssl.properties'), '--list'], {
        jvmArgs: [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${state.oidc.tokenEndpoint}`],
        timeoutMs: 60_000,
      });
      expect(tlsListed.code, tlsListed.stderr).toBe(0);
      expect(tlsListed.stdout.split('\n')).toContain(topic);

      // GATEHOUSE_LOG_LEVEL=debug reached the proxy through the generated ${GATEHOUSE_LOG_LEVEL:-info}.
      expect(readFileSync(state.config, 'utf8')).toContain('${GATEHOUSE_LOG_LEVEL:-info}');
      const logFile = join(sandboxDir, 'gatehouse.log');
      const debugLines = await waitFor('debug lines in the sandbox log', () => {
        if (!existsSync(logFile)) return undefined;
        const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
        const debug = lines.filter((l) => l.level === 20);
        return debug.some((l) => l.msg === 'client connected') ? debug : undefined;
      });
      expect(debugLines.length).toBeGreaterThan(0);

      // Ctrl-C: the command exits, the proxy and the broker are gone.
      child.kill('SIGINT');
      const end = await exited(child);
      expect(end).toEqual({ code: 0, signal: null });
      expect(await canConnect(kafkaPort)).toBe(false);
      expect(await canConnect(portOf(state.proxy.bootstrap))).toBe(false);
      expect(await canConnect(oidcPort)).toBe(false);
      expect(alive(brokerPid), `broker JVM ${brokerPid} still running`).toBe(false);
    });
  });
});
