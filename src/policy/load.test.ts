import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { readPolicyFile, PolicyError } from './load.js';
import { PolicyStore } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-policy-'));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('policy files', () => {
  it('reads a policy file and the inline policy section of a config file', () => {
    const own = write('own.yaml', 'roles:\n  app:\n    members: { groups: [team] }\n    rules:\n      - { resource: topic, name: "app_*", operations: [Read] }\n');
    expect(readPolicyFile({ path: own, inline: false }).roles.app!.rules[0]!.name).toBe('app_*');
    const cfg = write('config.yaml', 'upstream: { bootstrap: ["a:1"] }\npolicy:\n  roles:\n    app:\n      rules:\n        - { resource: cluster, operations: [Describe] }\n');
    expect(readPolicyFile({ path: cfg, inline: true }).roles.app!.rules[0]!.resource).toBe('cluster');
  });

  it('names the file, the line and the key of each mistake', () => {
    const bad = write(
      'bad.yaml',
      ['roles:', '  app:', '    members: { groups: [team] }', '    rules:', '      - resource: topic', '        name: x', '        operations: [Reed]', '      - resource: topic', '        operations: [Read]', '    colour: blue', ''].join('\n'),
    );
    let err: PolicyError | undefined;
    try {
      readPolicyFile({ path: bad, inline: false });
    } catch (e) {
      err = e as PolicyError;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect(err!.message).toContain(bad);
    expect(err!.issues.join('\n')).toMatch(/line 7: roles\.app\.rules\.0\.operations\.0: Invalid enum value/);
    expect(err!.issues.join('\n')).toMatch(/line 8: roles\.app\.rules\.1\.name: a topic rule needs a name/);
    expect(err!.issues.join('\n')).toMatch(/line 10: roles\.app: unknown key "colour"/);
    const cfg = write('config-bad.yaml', 'upstream: { bootstrap: ["a:1"] }\npolicy:\n  roles:\n    app:\n      rules:\n        - { resource: cluster, operations: [Everything] }\n');
    expect(() => readPolicyFile({ path: cfg, inline: true })).toThrow(/line 6: policy\.roles\.app\.rules\.0\.operations\.0/);
    expect(() => readPolicyFile({ path: write('syntax.yaml', 'roles:\n  app: [\n'), inline: false })).toThrow(/not valid YAML/);
  });

  it('reloads a valid change and keeps the old policy when the new one is invalid', () => {
    const p = write('reload.yaml', 'roles:\n  a:\n    rules: []\n');
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l) as Record<string, unknown>) });
    const store = new PolicyStore({ location: { path: p, inline: false }, log });
    expect([...store.policy.roles.keys()]).toEqual(['a']);
    writeFileSync(p, 'roles:\n  a:\n    rules: []\n  b:\n    rules: []\n');
    expect(store.reload('test')).toBe(true);
    expect(store.generation).toBe(2);
    expect([...store.policy.roles.keys()]).toEqual(['a', 'b']);
    writeFileSync(p, 'roles:\n  a:\n    rules: [{ resource: topic }]\n');
    expect(store.reload('test')).toBe(false);
    expect(store.generation).toBe(2);
    expect([...store.policy.roles.keys()]).toEqual(['a', 'b']);
    expect(logs.at(-1)).toMatchObject({ msg: 'policy reload rejected; the previous policy stays in force' });
    expect(JSON.stringify(logs.at(-1))).toContain("operations: Required");
  });

  it('rereads the file on SIGHUP', () => {
    const p = write('hup.yaml', 'roles:\n  a:\n    rules: []\n');
    const log = pino({ level: 'silent' });
    // A watch interval far away, so only the signal can reload.
    const store = new PolicyStore({ location: { path: p, inline: false }, log, watchIntervalMs: 3_600_000 });
    store.start();
    try {
      writeFileSync(p, 'roles:\n  a:\n    rules: []\n  hup:\n    rules: []\n');
      process.emit('SIGHUP', 'SIGHUP');
      expect(store.generation).toBe(2);
      expect([...store.policy.roles.keys()]).toEqual(['a', 'hup']);
    } finally {
      store.close();
    }
  });
});
