/**
 * `gatehouse run` with an identity section, as an operator starts it: kcat without SASL is cut
 * off, kcat with an access token as its PLAIN password round-trips records.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kcat, uniqueName, waitFor } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { saslUpstream } from '../helpers/upstream-account.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'bin', 'gatehouse.mjs');
/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();

describe('gatehouse run with identity', () => {
  let oidc: TestOidc;
  let child: ChildProcess;
  let dir: string;
  let out = '';
  let bootstrap = '';

  beforeAll(async () => {
    oidc = await startOidc();
    dir = mkdtempSync(join(tmpdir(), 'gh-identity-cli-'));
    const config = join(dir, 'gatehouse.yaml');
    writeFileSync(
      config,
      [
        'listen: { host: 127.0.0.1, advertisedHost: 127.0.0.1, bootstrapPort: 0, brokerPortBase: 0 }',
        // The proxy's own login to the broker's SASL listener, its password from the environment.
        `upstream: { bootstrap: ["${upstream.bootstrap}"], sasl: { mechanism: ${upstream.sasl.mechanism}, username: ${upstream.sasl.username}, password: "\${GH_UPSTREAM_PASSWORD}" } }`,
        'identity:',
        '  issuers:',
        `    - issuer: ${oidc.issuer}`,
        `      audience: ${oidc.audience}`,
        '  mechanisms: [OAUTHBEARER, PLAIN]',
        '',
      ].join('\n'),
    );
    child = spawn(process.execPath, [bin, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GH_UPSTREAM_PASSWORD: upstream.sasl.password } });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    bootstrap = await waitFor('gatehouse ready', () => /"bootstrap":"([^"]+)".*gatehouse ready/.exec(out)?.[1], { timeoutMs: 30_000 });
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    await oidc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates kcat with a token as PLAIN password and cuts off kcat without SASL', async () => {
    const topic = uniqueName('identity-cli');
    const token = await oidc.token('admin');
    const sasl = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=admin', '-X', `sasl.password=${token}`];
    const produced = await kcat(bootstrap, [...sasl, '-P', '-t', topic], { input: 'one\ntwo\n' });
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await kcat(bootstrap, [...sasl, '-C', '-t', topic, '-o', 'beginning', '-c', '2', '-e']);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.split('\n').filter(Boolean)).toEqual(['one', 'two']);
    const bare = await kcat(bootstrap, ['-L', '-m', '5'], { timeoutMs: 30_000 });
    expect(bare.code).not.toBe(0);
    expect(out).toContain('client authenticated');
    expect(out).toContain('Metadata request before authentication');
    expect(out).not.toContain(token);
  });
});
