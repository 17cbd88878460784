/**
 * `gatehouse run` as an operator runs it: a policy file reloaded on SIGHUP, the metrics and
 * health endpoint (Prometheus text with the proxy's, the policy's and the process's metrics;
 * liveness and readiness), and SIGTERM ending the process cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kcat, uniqueName, waitFor } from '../helpers/e2e.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'bin', 'gatehouse.mjs');
const kafkaBootstrap = inject('kafkaBootstrap');

const policy = (topicPattern: string) =>
  ['roles:', '  everyone:', '    members: { principals: [ANONYMOUS] }', '    rules:', `      - { resource: topic, name: "${topicPattern}", operations: [All] }`, ''].join('\n');

describe('gatehouse run: SIGHUP, metrics, health', () => {
  let child: ChildProcess;
  let dir: string;
  let out = '';
  let bootstrap = '';
  let metricsUrl = '';
  const allowed = uniqueName('ops_a');
  const later = uniqueName('ops_b');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-ops-'));
    writeFileSync(join(dir, 'policy.yaml'), policy('ops_a*'));
    const config = join(dir, 'gatehouse.yaml');
    writeFileSync(
      config,
      [
        'listen: { host: 127.0.0.1, advertisedHost: 127.0.0.1, bootstrapPort: 0, brokerPortBase: 0 }',
        `upstream: { bootstrap: ["${kafkaBootstrap}"] }`,
        'policy: { file: policy.yaml, watch: false }',
        'observability: { host: 127.0.0.1, port: 0 }',
        '',
      ].join('\n'),
    );
    child = spawn(process.execPath, [bin, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const ready = await waitFor('gatehouse ready', () => /"bootstrap":"([^"]+)".*"metricsPort":(\d+).*gatehouse ready/.exec(out), { timeoutMs: 30_000 });
    bootstrap = ready[1]!;
    metricsUrl = `http://127.0.0.1:${ready[2]}`;
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves liveness and readiness', async () => {
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${metricsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ready\n');
    expect((await fetch(`${metricsUrl}/nope`)).status).toBe(404);
  });

  it('rereads the policy on SIGHUP, and the metrics count what happened', async () => {
    const first = await kcat(bootstrap, ['-P', '-t', allowed], { input: 'one\n' });
    expect(first.code, first.stderr).toBe(0);
    const denied = await kcat(bootstrap, ['-P', '-t', later], { input: 'two\n' });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Topic authorization failed/i);

    writeFileSync(join(dir, 'policy.yaml'), policy('ops_*'));
    child.kill('SIGHUP');
    await waitFor('policy reloaded', () => out.includes('"msg":"policy reloaded"'), { timeoutMs: 10_000 });
    const now = await kcat(bootstrap, ['-P', '-t', later], { input: 'two\n' });
    expect(now.code, now.stderr).toBe(0);

    const res = await fetch(`${metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    expect(value(/^gatehouse_client_connections_opened_total (\d+)/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^gatehouse_client_connections_closed_total\{code="GH_CLIENT_CLOSED"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^gatehouse_policy_decisions_total\{api="Produce",outcome="allow"\} (\d+)/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^gatehouse_policy_decisions_total\{api="Metadata",outcome="(?:deny|filtered|allow)"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^gatehouse_policy_reloads_total\{result="applied"\} (\d+)/m)).toBe(1);
    expect(text).toMatch(/^gatehouse_process_resident_memory_bytes \d+/m);
  });

  it('SIGTERM drains and exits 0', async () => {
    expect(child.exitCode, out).toBeNull();
    const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await done).toBe(0);
  });
});
