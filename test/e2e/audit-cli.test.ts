/**
 * The audit trail, acceptance through the proxy with the real broker and Kafka's own CLI tools
 * (authenticated with OIDC tokens): a scripted session — create a topic, produce, consume,
 * reset the group's offsets, delete the topic — appears in the audit topic completely and in
 * order; `gatehouse audit sessions/replay/verify` read it back; the offsets recorded for the
 * consumer are those it printed; the consumer's group join (MEMBER_ID_REQUIRED first) is an ok
 * session, not an error. Then a copy of the topic with one event edited and one deleted
 * makes `audit verify` fail, naming them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kafkaMajor, runTool, type KafkaTool, type ToolResult } from '../../src/kafka/index.js';
import type { AuditEvent, RequestData } from '../../src/audit/events.js';
import { kafkaClient, uniqueName } from '../helpers/e2e.js';
import { javaOidcProperties, startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'bin', 'gatehouse.mjs');
const kafkaBootstrap = inject('kafkaBootstrap');
const classpath = inject('kafkaClasspath');
const kafkaVersion = inject('kafkaVersion');
const [major = 0, minor = 0] = kafkaVersion.split('.').map(Number);
const newOptions = major > 4 || (major === 4 && minor >= 2); // KIP-1147: --command-config everywhere
const formatterProperty = kafkaMajor(kafkaVersion) >= 4 ? '--formatter-property' : '--property';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('audit trail: a scripted CLI session', () => {
  let oidc: TestOidc;
  let gh: TestProxy;
  let dir: string;
  let configFile: string;
  let props: string;
  const auditTopic = uniqueName('audit-cli');
  const topic = uniqueName('audited');
  const group = uniqueName('audited-group');

  const tool = async (name: KafkaTool, args: string[], configOption: string, input?: string): Promise<ToolResult> => {
    const r = await runTool(classpath, name, ['--bootstrap-server', gh.bootstrap, configOption, props, ...args], {
      jvmArgs: [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${oidc.tokenEndpoint}`],
      ...(input === undefined ? {} : { input }),
    });
    expect(r.code, `${name} ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    oidc = await startOidc();
    dir = mkdtempSync(join(tmpdir(), 'gh-audit-cli-'));
    configFile = join(dir, 'gatehouse.yaml');
    writeFileSync(configFile, [`upstream: { bootstrap: ["${kafkaBootstrap}"] }`, `audit: { topic: ${auditTopic} }`, ''].join('\n'));
    props = join(dir, 'admin.properties');
    writeFileSync(props, `${javaOidcProperties(oidc, 'admin').join('\n')}\n`);
    gh = await startProxy(kafkaBootstrap, {
      identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
      audit: { topic: auditTopic, spool: { dir: join(dir, 'spool') }, createTopic: { partitions: 3 } },
    });
  });
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('records create, produce, consume, reset offsets and delete completely and in order; sessions, replay and verify show it', async () => {
    const producerConfig = newOptions ? '--command-config' : '--producer.config';
    const consumerConfig = newOptions ? '--command-config' : '--consumer.config';
    await tool('topics', ['--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1'], '--command-config');
    const lines = Array.from({ length: 5 }, (_, i) => `line ${i}`);
    await tool('console-producer', ['--topic', topic], producerConfig, `${lines.join('\n')}\n`);
    const consumed = await tool('console-consumer', [
      '--topic', topic, '--group', group, '--from-beginning', '--max-messages', '5', '--timeout-ms', '60000', formatterProperty, 'print.offset=true',
    ], consumerConfig);
    const receivedOffsets = [...consumed.stdout.matchAll(/Offset:(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
    expect(receivedOffsets).toEqual([0, 1, 2, 3, 4]);
    await tool('consumer-groups', ['--group', group, '--reset-offsets', '--to-earliest', '--topic', topic, '--execute'], '--command-config');
    await tool('topics', ['--delete', '--topic', topic], '--command-config');

    // Stopping the proxy closes the sessions and flushes the audit trail.
    await gh.stop();

    // Everything, read back with kafkajs: in chain order, the events that touch the topic.
    const consumer = kafkaClient(kafkaBootstrap).consumer({ groupId: uniqueName('audit-check') });
    const all: AuditEvent[] = [];
    const admin = kafkaClient(kafkaBootstrap).admin();
    await admin.connect();
    const total = (await admin.fetchTopicOffsets(auditTopic)).reduce((n, p) => n + Number(p.high), 0);
    await admin.disconnect();
    await consumer.connect();
    await consumer.subscribe({ topic: auditTopic, fromBeginning: true });
    await new Promise<void>((done) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          all.push(JSON.parse(message.value!.toString()) as AuditEvent);
          if (all.length === total) done();
        },
      });
    });
    await consumer.disconnect();
    all.sort((a, b) => a.seq - b.seq);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i)); // one instance, no gap, no duplicate

    const touching = all.filter((e) => e.type.endsWith('.request.v1')).map((e) => e.data as RequestData)
      .filter((d) => d.resources.some((r) => r.name === topic || r.name === group) || (d.produced ?? []).some((p) => p.topic === topic) || (d.fetched ?? []).some((p) => p.topic === topic));
    const milestones = touching.map((d) => d.api).filter((a) => ['CreateTopics', 'Produce', 'Fetch', 'OffsetCommit', 'DeleteTopics'].includes(a));
    const firstOf = (api: string) => milestones.indexOf(api);
    expect(firstOf('CreateTopics')).toBe(0);
    expect(firstOf('Produce')).toBeGreaterThan(firstOf('CreateTopics'));
    expect(firstOf('Fetch')).toBeGreaterThan(firstOf('Produce'));
    expect(firstOf('OffsetCommit')).toBeGreaterThan(firstOf('Fetch'));
    expect(milestones.lastIndexOf('DeleteTopics')).toBe(milestones.length - 1);
    // The reset: an OffsetCommit to offset 0 after the consumer's commits (consumer-groups tool).
    const commits = touching.filter((d) => d.api === 'OffsetCommit');
    expect(commits.length).toBeGreaterThanOrEqual(2);
    for (const d of touching) expect(d.principal).toBe('admin');

    const produced = touching.flatMap((d) => d.produced ?? []).filter((p) => p.topic === topic);
    expect(produced.reduce((n, p) => n + p.records, 0)).toBe(5);
    expect(produced.every((p) => p.errorCode === 0)).toBe(true);
    expect(Math.min(...produced.map((p) => p.baseOffset))).toBe(0);

    const handedOut = new Set<number>();
    for (const f of touching.flatMap((d) => d.fetched ?? []).filter((p) => p.topic === topic && p.records > 0)) {
      for (let o = f.firstOffset!; o <= f.lastOffset!; o++) handedOut.add(o);
    }
    expect([...handedOut].sort((a, b) => a - b)).toEqual(receivedOffsets);

    const kinds = new Set(all.map((e) => e.type.replace(/^dev\.gatehouse\.audit\.|\.v1$/g, '')));
    for (const k of ['session.opened', 'session.authenticated', 'request', 'session.closed', 'checkpoint']) expect(kinds).toContain(k);
    // Java clients with SASL send ApiVersions v0 before authenticating; the software they name in
    // the later v3+ request is in that request's event and in session.closed.
    const closed = all.filter((e) => e.type.endsWith('session.closed.v1'));
    expect(closed.length).toBeGreaterThan(3);
    for (const e of closed) expect((e.data as { clientSoftware: { name: string } }).clientSoftware.name).toMatch(/apache-kafka-java/);

    // The CLI: sessions (JSON lines), replay of the producer's session, verify.
    const sessions = await cli(['audit', 'sessions', '--config', configFile, '--json']);
    expect(sessions.code, sessions.stderr).toBe(0);
    const rows = sessions.stdout.trim().split('\n').map((l) => JSON.parse(l) as { sessionId: string; principal: string | null; topics: string[]; outcome: string });
    expect(rows.length).toBeGreaterThan(3);
    for (const r of rows) expect(r).toHaveProperty('sessionId');
    const producerSession = all.find((e) => (e.data as RequestData).produced?.some((p) => p.topic === topic))!.subject;
    expect(rows.find((r) => r.sessionId === producerSession)).toMatchObject({ principal: 'admin' });
    // Kafka's normal protocol steps are not errors: the consumer's first JoinGroup is answered
    // MEMBER_ID_REQUIRED (kept in the event as sent), yet its session and the whole run are ok.
    const joinGroup = all.find((e) => (e.data as RequestData).api === 'JoinGroup' && (e.data as RequestData).resources.some((r) => r.name === group))!;
    expect((joinGroup.data as RequestData).errorCodes).toContain(79);
    expect(rows.find((r) => r.sessionId === joinGroup.subject)).toMatchObject({ outcome: 'ok', errors: 0 });
    expect(rows.filter((r) => r.outcome !== 'ok')).toEqual([]);
    const joinReplay = await cli(['audit', 'replay', joinGroup.subject, '--config', configFile]);
    expect(joinReplay.stdout).toMatch(new RegExp(`JoinGroup v\\d+ #\\d+ Read on group ${group} → retry MEMBER_ID_REQUIRED`));
    expect(joinReplay.stdout).toContain('outcome ok');
    const filtered = await cli(['audit', 'sessions', '--config', configFile, '--json', '--topic', topic, '--principal', 'admin']);
    expect(filtered.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { sessionId: string }).sessionId)).toContain(producerSession);

    const replay = await cli(['audit', 'replay', producerSession, '--config', configFile]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('authenticated as admin');
    expect(replay.stdout).toMatch(new RegExp(`Produce v\\d+ #\\d+ Write on topic ${topic}`));
    expect(replay.stdout).toContain(`wrote ${topic}[0]: 5 record(s) at offsets 0-4`);
    expect(replay.stdout).toMatch(/closed: /);

    // The whole scripted session: every connection that touched the topic or the group, merged.
    const involved = [...new Set(all.filter((e) => touching.includes(e.data as RequestData)).map((e) => e.subject))];
    const whole = await cli(['audit', 'replay', ...involved, '--config', configFile]);
    expect(whole.code, whole.stderr).toBe(0);
    const order = ['CreateTopics', 'Produce', 'Fetch', 'OffsetCommit', 'DeleteTopics'].map((api) => whole.stdout.indexOf(` ${api} v`));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    const verify = await cli(['audit', 'verify', '--config', configFile]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain('OK:');

    // A copy of the topic with one event edited and one deleted: verify names both.
    const copy = `${auditTopic}-copy`;
    const producer = kafkaClient(kafkaBootstrap).producer();
    await producer.connect();
    const edited = all[5]!;
    const messages = all.filter((e) => e.seq !== 9).map((e) => {
      const value = e.seq === edited.seq ? JSON.stringify({ ...e, data: { ...(e.data as object), principal: 'mallory' } }) : JSON.stringify(e);
      return { key: e.subject, value };
    });
    await producer.send({ topic: copy, messages });
    await producer.disconnect();
    const broken = await cli(['audit', 'verify', '--config', configFile, '--audit-topic', copy]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(new RegExp(`ALTERED: \\S+ seq 5 \\(partition 0 offset 5\\)`));
    expect(broken.stdout).toMatch(/GAP: \S+: seq 9 missing/);
    expect(broken.stdout).toContain('FAILED');
  });
});
