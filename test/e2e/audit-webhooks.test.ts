/**
 * Audit webhooks through the proxy with the real broker and kafkajs (authenticated with OIDC
 * tokens): a local HTTP receiver gets Slack- and Teams-shaped messages for the mutations, the
 * generic CloudEvent with a valid HMAC signature, queries only at QUERIES/ALL, and (from the
 * WEBHOOK_* environment variables, Kpow's convention) every event at ALL.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { AuditEvent, RequestData } from '../../src/audit/events.js';
import { signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/audit/webhooks.js';
import { kafkajsRoundTrip, uniqueName, waitFor } from '../helpers/e2e.js';
import { startOidc, type TestOidc } from '../helpers/oidc.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const { Kafka, logLevel } = kafkajs;
const kafkaBootstrap = inject('kafkaBootstrap');

describe('audit webhooks', () => {
  let oidc: TestOidc;
  let gh: TestProxy;
  let server: Server;
  let dir: string;
  const received: Record<string, Array<{ headers: IncomingHttpHeaders; body: string }>> = {};
  const topic = uniqueName('audit-hooks');

  beforeAll(async () => {
    oidc = await startOidc();
    dir = mkdtempSync(join(tmpdir(), 'gh-audit-hooks-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        (received[req.url!] ??= []).push({ headers: req.headers, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const saved = { ...process.env };
    Object.assign(process.env, { WEBHOOK_PROVIDER: 'generic', WEBHOOK_URL: `${base}/env-all`, WEBHOOK_VERBOSITY: 'ALL' });
    try {
      gh = await startProxy(kafkaBootstrap, {
        identity: { issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] },
        audit: {
          topic: uniqueName('audit-hooks-topic'),
          cluster: 'e2e-cluster',
          spool: { dir: join(dir, 'spool') },
          webhooks: [
            { provider: 'slack', url: `${base}/slack` },
            { provider: 'teams', url: `${base}/teams`, verbosity: 'MUTATIONS' },
            { provider: 'generic', url: `${base}/generic`, secret: 'hook-secret' },
            { provider: 'slack', url: `${base}/slack-queries`, verbosity: 'QUERIES' },
          ],
        },
      });
    } finally {
      for (const k of ['WEBHOOK_PROVIDER', 'WEBHOOK_URL', 'WEBHOOK_VERBOSITY']) if (saved[k] === undefined) delete process.env[k];
    }
  });
  afterAll(async () => {
    await gh?.stop();
    await oidc?.stop();
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('Slack, Teams and generic get the mutations; queries only at QUERIES/ALL; generic is signed', async () => {
    const kafka = new Kafka({
      clientId: 'hooks-e2e',
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await oidc.token('admin') }) },
    });
    expect(await kafkajsRoundTrip(kafka, topic, [{ key: 'k', value: 'v1' }, { key: 'k', value: 'v2' }])).toEqual(['k=v1', 'k=v2']);

    const texts = (path: string) => (received[path] ?? []).map((r) => r.body);
    await waitFor('the webhooks', () => texts('/slack').some((t) => t.includes('Produce')) && texts('/slack-queries').some((t) => t.includes('Fetch')) && texts('/generic').length >= 2 && texts('/teams').length >= 2);

    // Slack: readable, mutations only.
    const slack = texts('/slack').map((b) => JSON.parse(b) as { text: string });
    const created = slack.find((m) => m.text.includes('CreateTopics'))!;
    for (const s of ['admin', `topic ${topic}`, 'e2e-cluster', 'Decision']) expect(created.text).toContain(s);
    expect(slack.some((m) => m.text.includes(`Produce`) && m.text.includes(topic))).toBe(true);
    expect(slack.some((m) => /\bFetch\b|Metadata|ApiVersions/.test(m.text))).toBe(false);

    // Teams: a MessageCard with the facts.
    const teams = texts('/teams').map((b) => JSON.parse(b) as { '@type': string; title: string; sections: Array<{ facts: Array<{ name: string; value: string }> }> });
    expect(teams.every((t) => t['@type'] === 'MessageCard')).toBe(true);
    const teamsProduce = teams.find((t) => t.title.includes('Produce'))!;
    expect(Object.fromEntries(teamsProduce.sections[0]!.facts.map((f) => [f.name, f.value]))).toMatchObject({ Who: 'admin', Resource: `topic ${topic}`, Cluster: 'e2e-cluster' });
    expect(teams.some((t) => t.title.includes('Fetch'))).toBe(false);

    // Generic: the CloudEvent, signed.
    for (const r of received['/generic']!) {
      expect(r.headers['content-type']).toBe('application/cloudevents+json');
      expect(r.headers[SIGNATURE_HEADER]).toBe(signBody('hook-secret', String(r.headers[TIMESTAMP_HEADER]), r.body));
      const e = JSON.parse(r.body) as AuditEvent<RequestData>;
      expect(e.specversion).toBe('1.0');
      expect(e.data.category).toBe('mutation');
    }
    expect(received['/generic']!.map((r) => (JSON.parse(r.body) as AuditEvent<RequestData>).data.api)).toEqual(expect.arrayContaining(['CreateTopics', 'Produce']));

    // QUERIES: the reads of data too (with records), not housekeeping.
    const queries = texts('/slack-queries').map((b) => (JSON.parse(b) as { text: string }).text);
    expect(queries.some((t) => t.includes('Fetch') && t.includes(topic))).toBe(true);
    expect(queries.some((t) => t.includes('Produce'))).toBe(true);
    expect(queries.some((t) => /Metadata|ApiVersions|Heartbeat/.test(t))).toBe(false);

    // The environment's destination, at ALL: session events as well.
    const all = texts('/env-all').map((b) => (JSON.parse(b) as AuditEvent).type);
    expect(all).toEqual(expect.arrayContaining(['dev.gatehouse.audit.session.opened.v1', 'dev.gatehouse.audit.session.authenticated.v1', 'dev.gatehouse.audit.request.v1']));
  });
});
