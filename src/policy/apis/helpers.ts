/**
 * Building blocks of the per-API rules: asking for actions, whole-request denials in the API's
 * own shape, and the generic "split items" machinery (per-topic, per-group, per-resource
 * requests where denied items are answered by the proxy and the rest goes to the broker, merged
 * back in the request's order).
 *
 * Rules only build plain objects the generated codecs encode; fields a version does not have are
 * simply not written, so a denied entry is always the generated default with every field filled.
 */
import { CLUSTER_NAME, ErrorCode, denialCode, type Action, type Operation, type ResourceType } from '../model.js';
import { defaultResponse } from './defaults.js';
import type { AuthzContext, Outcome } from './types.js';

/** Kafka's error codes the rules answer with (model.ts has every one they need, INVALID_REQUEST included). */
export const Errors = ErrorCode;

/** Kafka's AUTHORIZED_OPERATIONS_OMITTED: authorized operations were not asked for. */
export const OPS_OMITTED = -2147483648;

/** The one allow outcome (shared, never mutated). */
export const ALLOW: Outcome = Object.freeze({ kind: 'allow' }) as Outcome;

export function deny(response: unknown, errorCode: number): Outcome {
  return { kind: 'deny', response, errorCode };
}

type Obj = Record<string, any>;

/**
 * The best-effort denial of a whole request: the API's default response body with every
 * top-level `errorCode` field set (throttleTimeMs 0). For APIs without a top-level error code
 * this is an empty answer; their rules build per-item entries instead.
 */
export function genericDenial(apiKey: number, version: number, errorCode: number): Obj {
  void version; // the codec writes what the version has; the default covers every version
  const r = defaultResponse(apiKey);
  if (r === undefined) throw new Error(`no codec for API key ${apiKey}`);
  if (typeof r.errorCode === 'number') r.errorCode = errorCode;
  return r;
}

/** Asks for one action. */
export function can(ctx: AuthzContext, resourceType: ResourceType, name: string, operation: Operation): boolean {
  return ctx.allowed({ resourceType, name, operation });
}

export function onCluster(ctx: AuthzContext, operation: Operation): boolean {
  return can(ctx, 'cluster', CLUSTER_NAME, operation);
}

export function clusterAction(operation: Operation): Action {
  return { resourceType: 'cluster', name: CLUSTER_NAME, operation };
}

/** The code of the first denied action (in order, stopping there as Kafka does), or 0. */
export function firstDenied(ctx: AuthzContext, actions: readonly Action[]): number {
  for (const a of actions) if (!ctx.allowed(a)) return denialCode(a.resourceType);
  return 0;
}

/**
 * A rule for an API Kafka authorizes as a whole: every action must be allowed, else the generic
 * denial (top-level errorCode) with the first denied action's code (or `code`), adjusted by
 * `shape` for APIs whose answer carries the error elsewhere.
 */
export function requireAll(
  apiKey: number,
  actions: (req: any, ctx: AuthzContext) => readonly Action[],
  opts: { shape?: (res: Obj, req: any, code: number) => void; code?: number } = {},
): (req: any, ctx: AuthzContext) => Outcome {
  return (req, ctx) => {
    const denied = firstDenied(ctx, actions(req, ctx));
    if (denied === 0) return ALLOW;
    const code = opts.code ?? denied;
    const res = genericDenial(apiKey, ctx.version, code);
    opts.shape?.(res, req, code);
    return deny(res, code);
  };
}

/** A rule needing one operation on the cluster, denied whole (see requireAll). */
export function clusterRule(apiKey: number, operation: Operation, opts: Parameters<typeof requireAll>[2] = {}): { apiKey: number; authorize: (req: any, ctx: AuthzContext) => Outcome } {
  return { apiKey, authorize: requireAll(apiKey, () => [clusterAction(operation)], opts) };
}

/** A memo of one operation's decisions by resource name, so a name repeated in a request is checked once. */
export function gate(ctx: AuthzContext, resourceType: ResourceType, operation: Operation): (name: string) => boolean {
  const seen = new Map<string, boolean>();
  return (name) => {
    let ok = seen.get(name);
    if (ok === undefined) {
      ok = can(ctx, resourceType, name, operation);
      seen.set(name, ok);
    }
    return ok;
  };
}

/** How to split one list of a request into allowed and denied items, and merge the answers. */
export interface ItemSplit<I = any, R = any> {
  /** The items, in request order. */
  items: readonly I[];
  /** 0 to forward the item, else the error code it is answered with. */
  code(item: I, index: number): number;
  /** The request with only these (allowed) items. */
  request(allowed: I[]): unknown;
  /** The proxy's own answer entry for a denied item. */
  denied(item: I, code: number): R;
  /** The broker's entries in a response, and the response with entries replaced. */
  results(res: any): readonly R[];
  withResults(res: any, results: R[]): any;
  /** The response the proxy answers when every item is denied. */
  empty(): any;
  key(item: I): string;
  resultKey(result: R): string;
  /** Post-processing of every answer (recomputing authorized operations, filtering); absent: none. */
  finish?(res: any): any;
  /** Forward even when every item is denied (the request has other effects). */
  alwaysForward?: boolean;
  /** Leave out the broker's entries that match no forwarded item (instead of appending them). */
  dropUnmatched?: boolean;
}

/**
 * Splits a request by item. Nothing denied: allow (or filter with finish). Everything denied:
 * deny with the proxy's own entries. Otherwise split: the allowed items go upstream and merge()
 * puts the denied entries back in the request's order, matching the broker's entries by key
 * (entries the broker returned that match no item are appended). The broker's other fields
 * (throttleTimeMs, top-level errors) are kept.
 */
export function splitItems<I, R>(s: ItemSplit<I, R>): Outcome {
  const codes = s.items.map((it, i) => s.code(it, i));
  const first = codes.find((c) => c !== 0) ?? 0;
  if (first === 0) {
    const finish = s.finish;
    return finish ? { kind: 'filter', filter: (res: unknown) => finish(res) } : ALLOW;
  }
  const ordered = (fromBroker: readonly R[]): R[] => {
    const byKey = new Map<string, R[]>();
    for (const r of fromBroker) {
      const k = s.resultKey(r);
      const q = byKey.get(k);
      if (q) q.push(r);
      else byKey.set(k, [r]);
    }
    const out: R[] = [];
    s.items.forEach((it, i) => {
      if (codes[i] !== 0) out.push(s.denied(it, codes[i]!));
      else {
        const r = byKey.get(s.key(it))?.shift();
        if (r !== undefined) out.push(r);
      }
    });
    if (!s.dropUnmatched) for (const q of byKey.values()) out.push(...q);
    return out;
  };
  const allowed = s.items.filter((_, i) => codes[i] === 0);
  if (allowed.length === 0 && !s.alwaysForward) {
    const res = s.withResults(s.empty(), ordered([]));
    return deny(s.finish ? s.finish(res) : res, first);
  }
  return {
    kind: 'split',
    request: s.request(allowed),
    errorCode: first,
    merge: (res: unknown) => {
      const merged = s.withResults(res, ordered(s.results(res)));
      return s.finish ? s.finish(merged) : merged;
    },
  };
}

/** The field names of a request's or response's topic list (name or id keyed, with partitions). */
export interface TopicShape {
  list: string;
  name: string;
  /** The topic id field (used by versions where byId says so). */
  id?: string;
  parts: string;
  /** The partition index field of a partition entry; absent when partitions are plain numbers. */
  part?: string;
}

export interface TopicResultShape extends TopicShape {
  topic(): Obj;
  partition(): Obj;
  /** The partition's error field (default errorCode). */
  error?: string;
  /** Extra fields of a denied partition entry (e.g. offsets -1). */
  deniedPartition?: Obj;
}

export interface TopicRule {
  apiKey: number;
  op: Operation;
  req: TopicShape;
  res: TopicResultShape;
  /** Versions that name topics by id. */
  byId?: (version: number) => boolean;
}

/**
 * The common shape: request and answer both list `topics` of { name, partitions: [{ partitionIndex }] };
 * `req` and `res` name what differs.
 */
export function namedTopics(
  apiKey: number,
  op: Operation,
  topic: () => Obj,
  partition: () => Obj,
  req: Partial<TopicShape> = {},
  res: Partial<TopicResultShape> = {},
): TopicRule {
  const shape = { list: 'topics', name: 'name', parts: 'partitions', part: 'partitionIndex' };
  return { apiKey, op, req: { ...shape, ...req }, res: { ...shape, topic, partition, ...res } };
}

/** An API whose only rule is the per-topic split of `rule`. */
export function perTopicRule(rule: TopicRule): { apiKey: number; authorize: (req: any, ctx: AuthzContext) => Outcome } {
  return { apiKey: rule.apiKey, authorize: (req, ctx) => topicSplit(req, ctx, rule) };
}

/** Topic ids a request names, for rule.topicIds(). */
export function idsOf(req: Obj, shape: TopicShape): string[] {
  const list: Obj[] | null = req[shape.list];
  return list ? list.map((t) => t[shape.id!] as string) : [];
}

/** A topic's name, resolving ids on id-based versions; undefined for an unknown id. */
export function topicNameOf(t: Obj, shape: TopicShape, byId: boolean, ctx: AuthzContext): string | undefined {
  return byId ? ctx.topicName(t[shape.id!]) : t[shape.name];
}

/** The proxy's entry for a denied topic: every partition the request named, with `code`. */
export function deniedTopic(rule: TopicRule, t: Obj, code: number, byId: boolean, name: string | undefined): Obj {
  const { req, res } = rule;
  const out = res.topic();
  out[res.name] = byId ? (name ?? out[res.name]) : t[req.name];
  if (res.id && req.id && t[req.id] !== undefined) out[res.id] = t[req.id];
  const parts: unknown[] = t[req.parts] ?? [];
  out[res.parts] = parts.map((p) => {
    const e = res.partition();
    e[res.part ?? 'partitionIndex'] = req.part ? (p as Obj)[req.part] : p;
    e[res.error ?? 'errorCode'] = code;
    return res.deniedPartition ? Object.assign(e, res.deniedPartition) : e;
  });
  return out;
}

/**
 * Per-topic authorization of a topic → partitions request: each topic needs rule.op (memoized
 * by name); a denied topic is answered with every partition at TOPIC_AUTHORIZATION_FAILED, an
 * unknown id with UNKNOWN_TOPIC_ID. `all` denies every topic with that code (a group or
 * transactional id denied first); `check` replaces the per-topic decision.
 */
export function topicSplit(
  req: Obj,
  ctx: AuthzContext,
  rule: TopicRule,
  opts: { all?: number; check?: (name: string) => number; finish?: (res: any) => any; alwaysForward?: boolean } = {},
): Outcome {
  const byId = rule.byId?.(ctx.version) ?? false;
  const { req: rq, res: rs } = rule;
  const allowed = gate(ctx, 'topic', rule.op);
  const check = opts.check ?? ((name: string) => (allowed(name) ? 0 : Errors.TOPIC_AUTHORIZATION_FAILED));
  const names = new Map<Obj, string | undefined>();
  return splitItems<Obj, Obj>({
    items: req[rq.list] ?? [],
    code: (t) => {
      if (opts.all) return opts.all;
      const name = topicNameOf(t, rq, byId, ctx);
      names.set(t, name);
      return name === undefined ? Errors.UNKNOWN_TOPIC_ID : check(name);
    },
    request: (kept) => ({ ...req, [rq.list]: kept }),
    denied: (t, code) => deniedTopic(rule, t, code, byId, names.get(t)),
    results: (res) => res[rs.list] ?? [],
    withResults: (res, list) => ({ ...res, [rs.list]: list }),
    empty: () => genericDenial(rule.apiKey, ctx.version, opts.all ?? 0),
    key: (t) => (byId ? t[rq.id!] : t[rq.name]),
    resultKey: (r) => (byId ? r[rs.id!] : r[rs.name]),
    finish: opts.finish,
    alwaysForward: opts.alwaysForward,
  });
}

/** The field names of a flat list of named items and the answer's entries (groups, topics, resources). */
export interface FlatRule {
  apiKey: number;
  list: string;
  /** The item's name field; absent when items are plain strings. */
  name?: string;
  resList: string;
  resName: string;
  result(): Obj;
  /** The answer entry's error field (default errorCode). */
  error?: string;
  /** Extra fields of a denied entry. */
  deniedFields?: Obj;
}

export function itemName(item: unknown, nameField: string | undefined): string {
  return nameField ? (item as Obj)[nameField] : (item as string);
}

/**
 * Per-item authorization of a flat list: `code(name, item)` says 0 or the item's error code; a
 * denied item is answered by an entry with its name and the code.
 */
export function flatSplit(
  req: Obj,
  ctx: AuthzContext,
  rule: FlatRule,
  code: (name: string, item: any) => number,
  opts: { finish?: (res: any) => any; key?: (item: any) => string; resultKey?: (r: Obj) => string; denied?: (e: Obj, item: any) => void } = {},
): Outcome {
  const key = opts.key ?? ((it: unknown) => itemName(it, rule.name));
  return splitItems<unknown, Obj>({
    items: req[rule.list] ?? [],
    code: (it) => code(itemName(it, rule.name), it),
    request: (kept) => ({ ...req, [rule.list]: kept }),
    denied: (it, c) => {
      const e = rule.result();
      e[rule.resName] = itemName(it, rule.name);
      e[rule.error ?? 'errorCode'] = c;
      if (rule.deniedFields) Object.assign(e, rule.deniedFields);
      opts.denied?.(e, it);
      return e;
    },
    results: (res) => res[rule.resList] ?? [],
    withResults: (res, list) => ({ ...res, [rule.resList]: list }),
    empty: () => genericDenial(rule.apiKey, ctx.version, 0),
    key,
    resultKey: opts.resultKey ?? ((r) => r[rule.resName]),
    finish: opts.finish,
  });
}

/** Per-name decisions for flatSplit: `op` on `type`, denied with the type's code. */
export function byName(ctx: AuthzContext, type: ResourceType, op: Operation): (name: string) => number {
  const ok = gate(ctx, type, op);
  const code = denialCode(type);
  return (name) => (ok(name) ? 0 : code);
}

/**
 * The authorized operations to answer: what the policy allows, within what the broker reported
 * for the proxy's own account. The broker's set also says which operations the resource type
 * has on that broker's version (Kafka 4 added DescribeConfigs and AlterConfigs for groups; a 3.9
 * broker has only Read, Describe and Delete), and the proxy can do no more than its account may.
 */
export function authorizedOpsWithin(policy: number, broker: unknown): number {
  return typeof broker === 'number' && broker >= 0 ? policy & broker : policy;
}

/** Sets authorized operations on each entry of a list (when the request asked for them). */
export function withAuthorizedOps(ctx: AuthzContext, type: ResourceType, list: Obj[], nameField: string, opsField: string): Obj[] {
  return list.map((e) => (e.errorCode === 0 ? { ...e, [opsField]: authorizedOpsWithin(ctx.authorizedOperations(type, e[nameField]), e[opsField]) } : e));
}
