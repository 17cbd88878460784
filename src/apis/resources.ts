/**
 * The resources a decoded request names, read where the API table says they are: topics (ids
 * resolved to names where known), groups, transactional ids, config resources, and
 * FindCoordinator's keys (groups or transactional ids by key type).
 */
import { apiFacts, type ResourceRead } from './table.js';

export interface NamedResource {
  /** topic, group, transactionalId, cluster, delegationToken, or a config resource's type (e.g. clientMetrics). */
  type: string;
  name: string;
}

type Obj = Record<string, unknown>;

/** Config resource types (DescribeConfigs and friends): 2 topic, 3 broker, 4 broker logger, 16 client metrics, 32 group. */
const CONFIG_TYPES: Record<number, string> = { 2: 'topic', 3: 'cluster', 4: 'cluster', 16: 'clientMetrics', 32: 'group' };

/** The cluster's name in resources. */
export const CLUSTER = 'kafka-cluster';

/** Every value at `path` in `body` (see ResourceRead). */
function valuesAt(body: unknown, path: string): unknown[] {
  let current: unknown[] = [body];
  for (const step of path.split('.')) {
    const walk = step.endsWith('[]');
    const field = walk ? step.slice(0, -2) : step;
    const next: unknown[] = [];
    for (const v of current) {
      if (!v || typeof v !== 'object') continue;
      const x = (v as Obj)[field];
      if (walk && Array.isArray(x)) next.push(...x);
      else if (!walk && x !== undefined && x !== null) next.push(x);
    }
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

function nameOf(value: unknown, read: ResourceRead, topicName: (id: string) => string | undefined): string | undefined {
  if (typeof value === 'string') return value || undefined;
  if (!value || typeof value !== 'object') return undefined;
  const o = value as Obj;
  for (const field of ['name', 'topic', 'groupId', 'transactionalId']) if (typeof o[field] === 'string' && o[field]) return o[field] as string;
  if (read.type === 'topic' && typeof o.topicId === 'string') return topicName(o.topicId);
  return undefined;
}

/** The resources a request names, each once, in the order the body lists them. */
export function resourcesOf(apiKey: number, body: unknown, topicName: (id: string) => string | undefined = () => undefined): NamedResource[] {
  const facts = apiFacts(apiKey);
  const out = new Map<string, NamedResource>();
  const add = (type: string, name: string | undefined) => {
    if (!name) return;
    const key = `${type}\u0000${name}`;
    if (!out.has(key)) out.set(key, { type, name });
  };
  if (!facts || !body || typeof body !== 'object') return [];
  for (const read of facts.reads) {
    for (const v of valuesAt(body, read.path)) {
      if (read.type !== 'config') {
        add(read.type, nameOf(v, read, topicName));
        continue;
      }
      const r = v as Obj;
      const type = CONFIG_TYPES[r?.resourceType as number];
      if (type) add(type, type === 'cluster' ? CLUSTER : (r.resourceName as string));
    }
  }
  if (facts.name === 'FindCoordinator') {
    const b = body as Obj;
    const type = b.keyType === 1 ? 'transactionalId' : 'group';
    if (typeof b.key === 'string') add(type, b.key);
    if (Array.isArray(b.coordinatorKeys)) for (const k of b.coordinatorKeys) add(type, k as string);
  }
  if (facts.on === 'cluster' && out.size === 0) add('cluster', CLUSTER);
  return [...out.values()];
}
