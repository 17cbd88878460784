import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';

const base = { upstream: { bootstrap: ['kafka:9092'] } };

describe('audit config', () => {
  it('has defaults for everything', () => {
    const c = parseConfig({ ...base, audit: {} }, 'test', {});
    expect(c.audit).toMatchObject({
      topic: '__gatehouse_audit',
      mode: 'fail-open',
      useUpstreamSasl: true,
      createTopic: { partitions: 3, replicationFactor: -1, configs: {} },
      spool: { maxBytes: 256 * 1024 * 1024 },
      checkpointIntervalMs: 60_000,
      capture: [],
      webhooks: [],
      alerts: { deniedMutations: true, criticalTopics: [] },
    });
    expect(parseConfig(base, 'test', {}).audit).toBeUndefined();
  });

  it('takes webhooks, capture rules and alerts, with secrets from the environment', () => {
    const c = parseConfig(
      {
        ...base,
        audit: {
          mode: 'fail-closed',
          createTopic: null,
          capture: [{ topics: ['payments.*'], mode: 'full' }],
          webhooks: [{ provider: 'generic', url: 'https://siem.example/hook', verbosity: 'ALL', secret: '${HOOK_SECRET}' }],
          alerts: { authFailures: {}, criticalTopics: ['ledger'] },
        },
      },
      'test',
      { HOOK_SECRET: 's3cret' },
    );
    expect(c.audit!.createTopic).toBeNull();
    expect(c.audit!.webhooks[0]).toEqual({ provider: 'generic', url: 'https://siem.example/hook', verbosity: 'ALL', secret: 's3cret' });
    expect(c.audit!.alerts.authFailures).toEqual({ threshold: 5, windowMs: 60_000, by: ['principal', 'address'] });
  });

  it('refuses what it does not know', () => {
    expect(() => parseConfig({ ...base, audit: { mode: 'fail-sometimes' } }, 'test', {})).toThrow(/audit\.mode/);
    expect(() => parseConfig({ ...base, audit: { webhooks: [{ provider: 'pager', url: 'http://x' }] } }, 'test', {})).toThrow(/audit\.webhooks\.0\.provider/);
    expect(() => parseConfig({ ...base, audit: { topic: 'bad topic' } }, 'test', {})).toThrow(/audit\.topic/);
    expect(() => parseConfig({ ...base, audit: { spol: {} } }, 'test', {})).toThrow(/spol/);
  });
});
