import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AlertEngine } from './alerts.js';
import { Chain } from './chain.js';
import type { AuditEvent, RequestData } from './events.js';
import { describeEvent, selects, signBody, SIGNATURE_HEADER, slackMessage, teamsMessage, TIMESTAMP_HEADER, webhookFromEnv, Webhooks, type AlertNotice } from './webhooks.js';

const chain = new Chain('wh');
function request(over: Partial<RequestData>): AuditEvent {
  const data: RequestData = {
    sessionId: 'wh/c1', principal: 'payments-app', api: 'CreateTopics', apiKey: 19, apiVersion: 7, correlationId: 3, clientId: 'admin', category: 'mutation', operation: 'Create',
    resources: [{ type: 'topic', name: 'payments.orders', operation: 'Create' }], decision: { outcome: 'allow', rule: 'payments/0' }, errorCodes: [], synthetic: false,
    bytesIn: 10, bytesOut: 10, latencyMs: 1, ...over,
  };
  return chain.stamp({ kind: 'request', subject: data.sessionId, data }) as AuditEvent;
}

describe('webhook messages', () => {
  it('Slack and Teams say who, what, which resource, cluster and decision', () => {
    const e = request({});
    const slack = JSON.stringify(slackMessage(e, 'prod-eu'));
    for (const s of ['payments-app', 'CreateTopics', 'topic payments.orders', 'prod-eu', 'allow', 'payments/0']) expect(slack).toContain(s);
    const teams = teamsMessage(e, 'prod-eu') as { '@type': string; sections: Array<{ facts: Array<{ name: string; value: string }> }> };
    expect(teams['@type']).toBe('MessageCard');
    const facts = Object.fromEntries(teams.sections[0]!.facts.map((f) => [f.name, f.value]));
    expect(facts).toMatchObject({ Who: 'payments-app', Resource: 'topic payments.orders', Cluster: 'prod-eu' });
    expect(facts.Decision).toContain('allow');
  });

  it('what a client chose reaches Slack and Teams as text: no mention, link, Markdown, HTML or new line', () => {
    const principal = '<!channel> @here <@U123>\n• *Decision:* allow';
    const groups = ['<http://evil.example|your bank>', '[login](http://evil.example) **urgent** <at>Boss</at>'];
    const e = request({ principal, api: 'DeleteGroups', resources: groups.map((name) => ({ type: 'group', name })), decision: { outcome: 'deny', rule: 'default-deny' } });
    const alert: AlertNotice = { rule: 'denied-mutation', message: `${principal} was denied DeleteGroups on ${groups.join(', ')}`, event: e };
    for (const a of [undefined, alert]) {
      const slack = slackMessage(e, 'prod', a) as { text: string; blocks: Array<{ text?: { text: string; verbatim: boolean }; fields?: Array<{ text: string; verbatim: boolean }> }>; unfurl_links: boolean };
      const texts = [slack.text, ...slack.blocks.flatMap((b) => [b.text, ...(b.fields ?? [])].filter((t) => t !== undefined).map((t) => t!.text))];
      for (const t of texts) {
        expect(t).not.toMatch(/[<>]/); // Slack's links and mentions all start with <
        expect(t).not.toMatch(/(^|\s)@(here|channel)/);
      }
      expect(slack.text).toContain('&lt;!channel&gt; @\u2060here &lt;@\u2060U123&gt;');
      expect(slack.text).toContain('&lt;http://evil.example|your bank&gt;');
      // One line per fact: the principal's new line did not add one.
      expect(slack.text.split('\n')).toHaveLength(1 + 7);
      expect(slack.blocks.every((b) => [b.text, ...(b.fields ?? [])].every((t) => t === undefined || t.verbatim))).toBe(true);
      expect(slack.unfurl_links).toBe(false);

      const teams = teamsMessage(e, 'prod', a) as { title: string; summary: string; text?: string; sections: Array<{ facts: Array<{ name: string; value: string }> }> };
      const values = [...teams.sections[0]!.facts.map((f) => f.value), ...(teams.text !== undefined ? [teams.text] : [])];
      for (const v of values) {
        expect(v).not.toMatch(/[<>\n]/);
        expect(v).not.toMatch(/(^|[^\\])[[\]()*_`~]/); // every Markdown character escaped
      }
      expect(values.join(' ')).toContain('\\[login\\]\\(http://evil.example\\)');
      // Title and summary carry only the proxy's own words.
      for (const t of [teams.title, teams.summary]) expect(t).toMatch(/^(DeleteGroups \(Create\)|Alert denied-mutation)$/);
      expect(teams.text !== undefined).toBe(a !== undefined);
    }
  });

  it('long values are clipped so a message stays within what Slack accepts', () => {
    const long = '&'.repeat(50_000);
    const e = request({ principal: long, resources: Array.from({ length: 20 }, (_, i) => ({ type: 'group', name: `${long}${i}` })) });
    const slack = slackMessage(e, 'prod', { rule: 'denied-mutation', message: long, event: e }) as { blocks: Array<{ text?: { text: string }; fields?: Array<{ text: string }> }> };
    const plainOnly = slackMessage(e, 'prod') as typeof slack;
    for (const m of [slack, plainOnly]) {
      expect(m.blocks[0]!.text!.text.length).toBeLessThanOrEqual(3000);
      expect(m.blocks[1]!.fields!.length).toBeLessThanOrEqual(10);
      for (const f of m.blocks[1]!.fields!) expect(f.text.length).toBeLessThanOrEqual(2000);
    }
  });

  it('without a policy decision: normal protocol steps are allowed, other codes are errors', () => {
    const decisionOf = (over: Partial<RequestData>) => describeEvent(request({ decision: { outcome: 'none', rule: null }, ...over }), 'c').facts.find(([k]) => k === 'Decision')![1];
    expect(decisionOf({ api: 'OffsetCommit', errorCodes: [27] })).toBe('allowed (retry REBALANCE_IN_PROGRESS)');
    expect(decisionOf({ api: 'OffsetCommit', errorCodes: [29, 27] })).toBe('error 29');
    expect(decisionOf({})).toBe('allowed');
  });

  it('verbosity: MUTATIONS only mutations; QUERIES adds data reads, not housekeeping; ALL everything', () => {
    const mutation = request({});
    const fetchData = request({ api: 'Fetch', category: 'query', operation: 'Read', fetched: [{ topic: 't', partition: 0, fetchOffset: 0, firstOffset: 0, lastOffset: 1, records: 2, highWatermark: 2, errorCode: 0 }] });
    const emptyFetch = request({ api: 'Fetch', category: 'query', fetched: [{ topic: 't', partition: 0, fetchOffset: 2, firstOffset: null, lastOffset: null, records: 0, highWatermark: 2, errorCode: 0 }] });
    const metadata = request({ api: 'Metadata', category: 'query' });
    const closed = chain.stamp({ kind: 'session.closed', subject: 'wh/c1', data: {} }) as AuditEvent;
    const pick = (v: 'MUTATIONS' | 'QUERIES' | 'ALL') => [mutation, fetchData, emptyFetch, metadata, closed].map((e) => selects(v, e));
    expect(pick('MUTATIONS')).toEqual([true, false, false, false, false]);
    expect(pick('QUERIES')).toEqual([true, true, false, false, false]);
    expect(pick('ALL')).toEqual([true, true, true, true, true]);
  });

  it('the environment adds a destination (Kpow convention)', () => {
    expect(webhookFromEnv({})).toBeUndefined();
    expect(webhookFromEnv({ WEBHOOK_URL: 'http://x/y', WEBHOOK_PROVIDER: 'slack' })).toEqual({ provider: 'slack', url: 'http://x/y', verbosity: 'MUTATIONS', secret: undefined });
    expect(() => webhookFromEnv({ WEBHOOK_URL: 'http://x', WEBHOOK_VERBOSITY: 'SOME' })).toThrow(/WEBHOOK_VERBOSITY/);
  });

  it('generic posts the CloudEvent signed; a failing endpoint is retried with backoff; a dead one never blocks onEvent', async () => {
    const got: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
    let failures = 2;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (failures-- > 0) {
          res.statusCode = 503;
          return res.end();
        }
        got.push({ headers: req.headers, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const hooks = new Webhooks(
      [
        { provider: 'generic', url, verbosity: 'MUTATIONS', secret: 's3cret' },
        { provider: 'slack', url: 'http://127.0.0.1:1/dead', verbosity: 'ALL' },
      ],
      { cluster: 'c', retryMinMs: 10, maxAttempts: 4, timeoutMs: 500 },
    );
    const e = request({});
    const t0 = performance.now();
    hooks.onEvent(e);
    expect(performance.now() - t0).toBeLessThan(20);
    await hooks.idle(5000);
    server.close();
    expect(got).toHaveLength(1);
    const h = got[0]!;
    expect(h.headers['content-type']).toBe('application/cloudevents+json');
    expect(h.headers[SIGNATURE_HEADER]).toBe(signBody('s3cret', String(h.headers[TIMESTAMP_HEADER]), h.body));
    expect(JSON.parse(h.body)).toEqual(e);
  });
});

describe('alerts', () => {
  it('auth failures per address within a window, denied mutations, critical topics', () => {
    const fired: AlertNotice[] = [];
    let now = 1_000_000;
    const engine = new AlertEngine({ authFailures: { threshold: 3, windowMs: 60_000, by: ['address'] }, deniedMutations: true, criticalTopics: ['payments.*'] }, (a) => fired.push(a), () => now);
    for (let i = 0; i < 4; i++) {
      const sid = `wh/a${i}`;
      engine.onEvent(chain.stamp({ kind: 'session.opened', subject: sid, data: { client: { address: '10.0.0.9', port: 1 } } }) as AuditEvent);
      engine.onEvent(chain.stamp({ kind: 'session.authentication_failed', subject: sid, data: { reason: 'bad', claimedPrincipal: i < 2 ? 'bob' : null } }) as AuditEvent);
      now += 1000;
    }
    expect(fired.map((a) => a.rule)).toEqual(['auth-failures']);
    expect(fired[0]!.message).toContain('10.0.0.9');
    engine.onEvent(request({ decision: { outcome: 'deny', rule: 'default-deny' }, resources: [{ type: 'topic', name: 'other', allowed: false }] }));
    engine.onEvent(request({ api: 'DeleteTopics', resources: [{ type: 'topic', name: 'payments.orders' }] }));
    engine.onEvent(request({ api: 'Metadata', category: 'query', resources: [{ type: 'topic', name: 'payments.orders' }] }));
    expect(fired.map((a) => a.rule)).toEqual(['auth-failures', 'denied-mutation', 'critical-topic']);
  });
});
