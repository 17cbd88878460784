/**
 * The module boundaries, checked on the sources' imports: the stage API depends on nothing else
 * of Gatehouse; the proxy core knows no stage; stages reach the core only for the few
 * cluster-access helpers they share with it, never its connections, exchanges or server.
 * identity/upstream/ is not a stage but the proxy's own login to the brokers (clients never see
 * it); it sits with identity and is part of the core's upstream path, so both rules skip it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..');

function sources(folder: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(SRC, folder), { withFileTypes: true })) {
    const path = join(folder, e.name);
    if (e.isDirectory()) out.push(...sources(path));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The src-relative paths a source file imports (relative imports only). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/\bfrom\s+'(\.{1,2}\/[^']+)'/g)) out.push(relative(SRC, normalize(join(SRC, dirname(file), m[1]!))));
  return out;
}

const STAGES = ['identity', 'policy', 'audit', 'observability'];
/** What stages may use of src/proxy: ways to reach the cluster (TLS settings included; the audit client uses them), shared with the core. */
const CLUSTER_ACCESS = new Set(['proxy/upstream.js', 'proxy/upstream-tls.js', 'proxy/discovery.js', 'proxy/control-channel.js']);

describe('module boundaries', () => {
  it('the stage API imports nothing outside itself', () => {
    const outside = sources('stage').flatMap((f) => importsOf(f).filter((i) => !i.startsWith('stage/') && !i.startsWith('..')).map((i) => `${f} -> ${i}`));
    expect(outside).toEqual([]);
  });

  it('the proxy core imports no stage', () => {
    const bad = sources('proxy').flatMap((f) =>
      importsOf(f)
        .filter((i) => STAGES.some((s) => i.startsWith(`${s}/`)) && !i.startsWith('identity/upstream/'))
        .map((i) => `${f} -> ${i}`),
    );
    expect(bad).toEqual([]);
  });

  it('stages use the stage API, not the core\'s connections, exchanges or server', () => {
    const bad = STAGES.flatMap((stage) =>
      sources(stage).filter((f) => !f.startsWith('identity/upstream/')).flatMap((f) =>
        importsOf(f)
          .filter((i) => i.startsWith('proxy/') && !CLUSTER_ACCESS.has(i) && !(stage === 'observability' && i === 'proxy/server.js'))
          .map((i) => `${f} -> ${i}`),
      ),
    );
    expect(bad).toEqual([]);
  });

  it('no import cycle between the audit trail and the pipeline', () => {
    expect(sources('audit').flatMap(importsOf)).not.toContain('pipeline.js');
  });
});
