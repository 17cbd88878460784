/**
 * Real clients obtaining their own tokens and authenticating through the proxy: Kafka's Java
 * console producer and consumer with the OIDC login callback handler (KIP-768 client
 * credentials against the test's OpenID provider), and kcat (librdkafka without libcurl) with an
 * access token as its SASL/PLAIN password.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kafkaMajor, runTool } from '../../src/kafka/index.js';
import { kcat, uniqueName } from '../helpers/e2e.js';
import { javaOidcProperties, startOidc, type TestOidc } from '../helpers/oidc.js';
import { saslUpstream } from '../helpers/upstream-account.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

/** The proxy logs in to the broker's SASL listener with its own account. */
const upstream = saslUpstream();
const classpath = inject('kafkaClasspath');
const formatterProperty = kafkaMajor(inject('kafkaVersion')) >= 4 ? '--formatter-property' : '--property';

describe('identity: real clients fetch their own tokens', () => {
  let oidc: TestOidc;
  let gh: TestProxy;

  beforeAll(async () => {
    oidc = await startOidc();
    gh = await startProxy(upstream.bootstrap, { upstream: { sasl: upstream.sasl }, identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] } });
  });
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
  });

  /** Client properties for Kafka's Java tools: OAUTHBEARER with the OIDC client-credentials login. */
  function javaOauth(flag: '--producer-property' | '--consumer-property', clientId: string): string[] {
    return javaOidcProperties(oidc, clientId).flatMap((p) => [flag, p]);
  }

  it("Kafka's console producer and consumer log in with client credentials and round-trip records", async () => {
    const topic = uniqueName('identity-java');
    const jvmArgs = [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${oidc.tokenEndpoint}`];
    const lines = Array.from({ length: 20 }, (_, i) => `k${i}:payment-${i}`);
    const produced = await runTool(
      classpath,
      'console-producer',
      ['--bootstrap-server', gh.bootstrap, '--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=:', ...javaOauth('--producer-property', 'payments-app')],
      { input: lines.join('\n') + '\n', jvmArgs },
    );
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await runTool(
      classpath,
      'console-consumer',
      [
        '--bootstrap-server', gh.bootstrap, '--topic', topic, '--group', uniqueName('identity-java-group'), '--from-beginning',
        '--max-messages', '20', '--timeout-ms', '60000', formatterProperty, 'print.key=true', formatterProperty, 'key.separator=:',
        ...javaOauth('--consumer-property', 'auditor'),
      ],
      { jvmArgs },
    );
    expect(consumed.code, consumed.stderr).toBe(0);
    // (Kafka 4.2+ prints a deprecation note for --consumer-property on stdout; 3.9 has no --command-property.)
    expect(consumed.stdout.split('\n').filter((l) => /^k\d+:/.test(l)).sort()).toEqual([...lines].sort());
    const authed = gh.logs.filter((l) => l.msg === 'client authenticated' && l.mechanism === 'OAUTHBEARER');
    expect(authed.some((l) => l.principal === 'payments-app')).toBe(true);
    expect(authed.some((l) => l.principal === 'auditor' && JSON.stringify(l.groups) === '["auditors"]')).toBe(true);
  });

  it('kcat with the access token as its SASL/PLAIN password round-trips records', async () => {
    const topic = uniqueName('identity-kcat');
    const token = await oidc.token('analytics');
    const sasl = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=analytics', '-X', `sasl.password=${token}`];
    const produced = await kcat(gh.bootstrap, [...sasl, '-P', '-t', topic, '-K:'], { input: 'a:1\nb:2\nc:3\n' });
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await kcat(gh.bootstrap, [...sasl, '-C', '-t', topic, '-o', 'beginning', '-c', '3', '-e', '-f', '%k=%s\\n']);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.split('\n').filter(Boolean).sort()).toEqual(['a=1', 'b=2', 'c=3']);
    expect(gh.logs.some((l) => l.msg === 'client authenticated' && l.principal === 'analytics' && l.mechanism === 'PLAIN')).toBe(true);
  });

  it('kcat with a wrong password hears "Authentication failed"; the proxy logs why', async () => {
    const sasl = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=analytics', '-X', 'sasl.password=not-a-token'];
    const res = await kcat(gh.bootstrap, [...sasl, '-L', '-m', '5'], { timeoutMs: 30_000 });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/Authentication failed/);
    expect(res.stderr).not.toMatch(/malformed/);
    expect(gh.logs.some((l) => l.code === 'GH_AUTH_FAILED' && l.mechanism === 'PLAIN' && l.reason === 'token malformed: not a signed JWT')).toBe(true);
  });

  it('kcat without SASL gets nothing but a closed connection', async () => {
    const res = await kcat(gh.bootstrap, ['-L', '-m', '5'], { timeoutMs: 30_000 });
    expect(res.code).not.toBe(0);
    expect(gh.logs.some((l) => l.code === 'GH_STAGE_CLOSED' && /Metadata request before authentication/.test(String(l.reason)))).toBe(true);
  });
});
