/**
 * Audit webhooks through the proxy with the real broker and kafkajs (authenticated with OIDC
 * tokens): a local HTTP receiver gets Slack- and Teams-shaped messages for the mutations, the
 * generic CloudEvent with a valid HMAC signature, queries only at QUERIES/ALL, and (from the
 * WEBHOOK_* environment variables, Kpow's convention) every event at ALL. A hostile principal
 * (token subject), group id, client id and name claimed in a failed login reach Slack and Teams
 * escaped — no mention, link, Markdown, HTML or new line — and the generic webhook raw.
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
import { RawClient } from '../helpers/sasl-client.js';

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
          // Every failed login alerts (to every destination), so the hostile name it claimed shows.
          alerts: { authFailures: { threshold: 1, windowMs: 60_000, by: ['principal'] } },
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

  it('what a client or its token chose reaches Slack and Teams escaped, and the generic webhook raw', async () => {
    const marker = uniqueName('hostile');
    // A token subject (the principal), a group id, a client id and a name claimed in a failed
    // login, each trying Slack's mentions and links, Teams' Markdown and HTML, and a new line.
    const principal = `<!channel> @here <@U0BOSS> [bank](http://evil.example) <at>Boss</at> ${marker}\n• *Decision:* allow`;
    const group = `<http://evil.example|your bank> **urgent** ${marker}`;
    const claimed = `<!here> <@U0CEO> _${marker}_`;
    const seen = Object.fromEntries(Object.entries(received).map(([path, list]) => [path, list.length]));
    const fresh = (path: string) => (received[path] ?? []).slice(seen[path] ?? 0).map((r) => ({ ...r, json: JSON.parse(r.body) as unknown }));

    const token = await oidc.sign({ sub: principal });
    const kafka = new Kafka({
      clientId: `<!channel> [x](http://evil.example) ${marker}`,
      brokers: [gh.bootstrap],
      logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: token }) },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([group]).catch(() => undefined); // no such group: the broker says so; the request is audited
    await admin.disconnect();
    const raw = await RawClient.open(gh.bootstrap);
    await raw.handshake('OAUTHBEARER');
    await raw.authenticate(Buffer.from(`n,a=${claimed},\x01auth=Bearer not-a-token\x01\x01`, 'utf8')).catch(() => undefined);
    raw.close();

    const has = (path: string, what: string) => fresh(path).some((r) => r.body.includes(what));
    await waitFor('the hostile messages', () => ['/slack', '/teams', '/generic'].every((p) => has(p, 'DeleteGroups') && has(p, 'auth-failures')), { timeoutMs: 30_000 });

    /** Every string in a parsed body. */
    const strings = (x: unknown): string[] =>
      typeof x === 'string' ? [x] : Array.isArray(x) ? x.flatMap(strings) : x !== null && typeof x === 'object' ? Object.values(x).flatMap(strings) : [];

    // Slack: no < or > anywhere (links, mentions and special mentions all start with <), no @
    // that could mention, the new line did not make a line of its own.
    const slack = [...fresh('/slack'), ...fresh('/slack-queries')].filter((r) => r.body.includes(marker));
    expect(slack.length).toBeGreaterThanOrEqual(2);
    for (const r of slack) {
      for (const t of strings(r.json)) {
        expect(t).not.toMatch(/[<>]/);
        expect(t).not.toMatch(/(^|[^\w.%+-])@(?!\u2060)/);
      }
    }
    const slackDelete = slack.map((r) => r.json as { text: string }).find((m) => m.text.includes('DeleteGroups'))!;
    expect(slackDelete.text).toContain(`&lt;!channel&gt; @\u2060here &lt;@\u2060U0BOSS&gt;`);
    expect(slackDelete.text).toContain('group &lt;http://evil.example|your bank&gt;');
    expect(slackDelete.text.split('\n')).toHaveLength(1 + 7);
    const slackAlert = slack.map((r) => r.json as { text: string }).find((m) => m.text.includes('auth-failures'))!;
    expect(slackAlert.text).toContain(`&lt;!here&gt; &lt;@\u2060U0CEO&gt; _${marker}_`);

    // Teams: facts and alert text without HTML or new lines, every Markdown character escaped;
    // title and summary in the proxy's words only.
    type Card = { title: string; summary: string; text?: string; sections: Array<{ facts: Array<{ name: string; value: string }> }> };
    const teams = fresh('/teams').filter((r) => r.body.includes(marker)).map((r) => r.json as Card);
    expect(teams.map((t) => t.title).sort()).toEqual(expect.arrayContaining(['Alert auth-failures', 'DeleteGroups (Delete)']));
    for (const t of teams) {
      expect(`${t.title} ${t.summary}`).not.toContain(marker);
      for (const v of [...t.sections[0]!.facts.map((f) => f.value), ...(t.text !== undefined ? [t.text] : [])]) {
        expect(v).not.toMatch(/[<>\n]/);
        expect(v).not.toMatch(/(^|[^\\])[[\]()*_`~|!]/);
      }
    }
    const teamsDelete = teams.find((t) => t.title.startsWith('DeleteGroups'))!;
    const facts = Object.fromEntries(teamsDelete.sections[0]!.facts.map((f) => [f.name, f.value]));
    expect(facts.Who).toContain('&lt;\\!channel&gt; @here &lt;@U0BOSS&gt; \\[bank\\]\\(http://evil.example\\) &lt;at&gt;Boss&lt;/at&gt;');
    expect(facts.Resource).toContain(`group &lt;http://evil.example\\|your bank&gt; \\*\\*urgent\\*\\* ${marker}`);

    // Generic: the CloudEvents as they are, the raw values as JSON data, signed.
    const generic = fresh('/generic').filter((r) => r.body.includes(marker));
    for (const r of generic) expect(r.headers[SIGNATURE_HEADER]).toBe(signBody('hook-secret', String(r.headers[TIMESTAMP_HEADER]), r.body));
    const deleted = generic.map((r) => r.json as AuditEvent<RequestData>).find((e) => e.data.api === 'DeleteGroups')!;
    expect(deleted.data.principal).toBe(principal);
    expect(deleted.data.clientId).toBe(`<!channel> [x](http://evil.example) ${marker}`);
    expect(deleted.data.resources.map((x) => x.name)).toContain(group);
    const alerted = generic.map((r) => r.json as AuditEvent<{ claimedPrincipal: string }> & { gatehousealert?: string }).find((e) => e.gatehousealert === 'auth-failures')!;
    expect(alerted.data.claimedPrincipal).toBe(claimed);
  });
});
