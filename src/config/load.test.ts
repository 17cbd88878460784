import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from './load.js';

describe('config', () => {
  it('fills defaults around the one required key', () => {
    const c = parseConfig({ upstream: { bootstrap: ['127.0.0.1:9092'] } });
    expect(c.listen.bootstrapPort).toBe(9092);
    expect(c.limits.maxFrameBytes).toBe(100 * 1024 * 1024);
    expect(c.upstream.connectTimeoutMs).toBe(10_000);
    // Before login (with identity): Kafka's sasl.server.max.receive.size, a 10 s deadline, per-address and per-account limits.
    expect(c.limits).toMatchObject({
      maxUnauthenticatedFrameBytes: 512 * 1024,
      loginTimeoutMs: 10_000,
      maxUnauthenticatedConnectionsPerAddress: 64,
      loginAttempts: { perAddress: 100, perAccount: 30, windowMs: 60_000 },
    });
  });

  it('names the bad key', () => {
    expect(() => parseConfig({ upstream: { bootstrap: ['nope'] } })).toThrow(/upstream\.bootstrap\.0: expected host:port/);
    expect(() => parseConfig({ upstream: { bootstrap: ['a:1'] }, listen: { bootstrapPort: 'x' } })).toThrow(/listen\.bootstrapPort/);
    expect(() => parseConfig({ upstream: { bootstrap: ['a:1'] }, limits: { maxFrameByte: 5 } })).toThrow(/limits: unknown key "maxFrameByte"/);
    expect(() => parseConfig({})).toThrow(/upstream: Required/);
  });

  it('expands environment variables and reports missing ones', () => {
    const c = parseConfig({ upstream: { bootstrap: ['${KAFKA:-localhost:1}'] } }, 'x', {});
    expect(c.upstream.bootstrap).toEqual(['localhost:1']);
    expect(() => parseConfig({ upstream: { bootstrap: ['${NOPE_UNSET}'] } }, 'x', {})).toThrow(/NOPE_UNSET is not set/);
  });

  it('reads YAML files and reports syntax errors with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-config-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'upstream:\n  bootstrap: ["127.0.0.1:9999"]\nlisten:\n  bootstrapPort: 19092\n');
    expect(loadConfigFile(good).listen.bootstrapPort).toBe(19092);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'upstream: [unclosed\n');
    const err = (() => {
      try {
        loadConfigFile(bad);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain(bad);
  });
});
