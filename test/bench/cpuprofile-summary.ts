/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): the top functions by self time and by total
 * (inclusive) time, as a share of the samples, with their files shortened.
 *
 *   npx tsx test/bench/cpuprofile-summary.ts CPU.*.cpuprofile [--top 40] [--filter audit]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '35' }, filter: { type: 'string' } } });

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: Node) => {
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm/').replace(/.*\/work\/main\//, '');
    return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  let idle = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    all += dt;
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') idle += dt;
    self.set(label(n), (self.get(label(n)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const l = label(byId.get(at)!);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + dt);
    }
  });
  const busy = all - idle;
  const top = Number(values.top);
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title} (% of ${(busy / 1000).toFixed(0)} ms busy)`);
    [...m]
      .filter(([l]) => !values.filter || l.includes(values.filter))
      .filter(([l]) => !l.startsWith('(idle)') && !l.startsWith('(root)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .forEach(([l, t]) => console.log(`${((100 * t) / busy).toFixed(1).padStart(6)}%  ${l}`));
  };
  console.log(`${file}: ${(all / 1000).toFixed(0)} ms sampled, ${(idle / 1000).toFixed(0)} ms idle`);
  show('self', self);
  show('total', total);
}
