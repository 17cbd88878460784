/**
 * Test kit for the rules (imported by the *.test.ts files beside it): a fake AuthzContext that
 * records the actions asked for and decides them by a predicate, requests built from the
 * generated defaults and normalized through the codec at a version, and encode/decode round
 * trips of everything a rule produces.
 */
import { describe as describeBlock, expect, it } from 'vitest';
import { apiCodec } from '../../../protocol/generated/index.js';
import { Reader, Writer } from '../../../protocol/runtime/index.js';
import { WRITE_LIKE } from '../authorizer.js';
import { CREDENTIAL_APIS_OFF, type CredentialApis } from '../credential-apis.js';
import { ErrorCode, OPERATION_CODES, SUPPORTED_OPERATIONS, type Action, type ResourceType } from '../model.js';
import { deniedTopic, type TopicRule } from './helpers.js';
import { ruleFor } from './index.js';
import type { AuthzContext, Outcome } from './types.js';
import { defaultRequest, defaultResponse } from './defaults.js';


type Obj = Record<string, any>;


export interface FakeContext extends AuthzContext {
  /** Every action asked for, as "Operation type:name" (allowedOnAny as "Operation type:*"). */
  readonly asked: string[];
  /** Every refusal recorded with ctx.refuse, as "Operation type:name (reason)". */
  readonly refused: string[];
}

/** The fake's protected topics: the audit topic of the tests and the proxy's prefix. */
export const PROTECTED_AUDIT_TOPIC = 'audit-trail';
export function isProtectedTestTopic(name: string): boolean {
  return name === PROTECTED_AUDIT_TOPIC || name.startsWith('__gatehouse');
}

export interface FakeOptions {
  /** Switches of the broker-credential APIs (default: all off, no protected user). */
  credentialApis?: Partial<CredentialApis>;
}

export type Decide = (a: Action) => boolean;

/** A predicate allowing everything except the listed "Operation type:name" actions. */
export function denyOnly(...denied: string[]): Decide {
  const set = new Set(denied);
  return (a) => !set.has(describe(a));
}

/** A predicate allowing only the listed "Operation type:name" actions. */
export function allowOnly(...allowed: string[]): Decide {
  const set = new Set(allowed);
  return (a) => set.has(describe(a));
}

export const allowAll: Decide = () => true;

export function describe(a: Action): string {
  return `${a.operation} ${a.resourceType}:${a.name}`;
}

/**
 * A fake context at `version`: decides by `decide`, names ids from `ids`, state in `state`. As
 * the real policy, it refuses every write-like action on a protected topic (isProtectedTestTopic)
 * whatever `decide` says.
 */
export function fakeContext(version: number, decide: Decide, ids: Record<string, string> = {}, state = new Map<string, unknown>(), opts: FakeOptions = {}): FakeContext {
  const asked: string[] = [];
  const refused: string[] = [];
  return {
    version,
    asked,
    refused,
    allowed(a) {
      asked.push(describe(a));
      if (a.resourceType === 'topic' && isProtectedTestTopic(a.name) && WRITE_LIKE.has(a.operation)) return false;
      return decide(a);
    },
    allowedOnAny(type, op) {
      const a = { resourceType: type, name: '*', operation: op };
      asked.push(describe(a));
      return decide(a);
    },
    authorizedOperations(type: ResourceType, name: string) {
      let bits = 0;
      for (const op of SUPPORTED_OPERATIONS[type]) if (decide({ resourceType: type, name, operation: op })) bits |= 1 << OPERATION_CODES[op];
      return bits;
    },
    topicName: (id) => ids[id],
    sessionState<T>(key: string, init: () => T): T {
      if (!state.has(key)) state.set(key, init());
      return state.get(key) as T;
    },
    isProtectedTopic: isProtectedTestTopic,
    credentialApis: { ...CREDENTIAL_APIS_OFF, ...opts.credentialApis },
    refuse(a, reason) {
      refused.push(`${describe(a)} (${reason})`);
      return false;
    },
  };
}

function encode(write: (w: Writer, v: number, o: unknown) => void, v: number, o: unknown): Buffer {
  const w = new Writer();
  write(w, v, o);
  return Buffer.from(w.finish());
}

/** Encodes a request body at v and decodes it back (what a rule sees from the stage). */
export function requestAt(apiKey: number, v: number, fields: Obj = {}): Obj {
  const c = apiCodec(apiKey)!;
  const bytes = encode(c.writeRequest, v, { ...defaultRequest(apiKey), ...fields });
  return c.readRequest(new Reader(bytes), v) as Obj;
}

/** Writes a body, reads it back and checks the read encodes to the same bytes; returns the read body. */
function roundTrip(write: (w: Writer, v: number, o: unknown) => void, read: (r: Reader, v: number) => unknown, v: number, o: unknown): Obj {
  const bytes = encode(write, v, o);
  const r = new Reader(bytes);
  const back = read(r, v);
  expect(r.remaining).toBe(0);
  expect(encode(write, v, back)).toEqual(bytes);
  return back as Obj;
}

export function responseRoundTrip(apiKey: number, v: number, body: unknown): Obj {
  const c = apiCodec(apiKey)!;
  return roundTrip(c.writeResponse, c.readResponse, v, body);
}

export function requestRoundTrip(apiKey: number, v: number, body: unknown): Obj {
  const c = apiCodec(apiKey)!;
  return roundTrip(c.writeRequest, c.readRequest, v, body);
}

export interface Run {
  outcome: Outcome;
  /** Every action asked, including those a merge or filter asks afterwards. */
  asked: string[];
  /** Every refusal recorded (ctx.refuse), as "Operation type:name (reason)". */
  refused: string[];
  /** The actions authorize() itself asked. */
  authorizeAsked: string[];
  /** deny: the answer, decoded after a round trip. */
  response?: Obj;
  /** split: the forwarded request, decoded after a round trip. */
  forwarded?: Obj;
  /** split/filter: the answer after merge/filter of `broker`, decoded after a round trip. */
  merged?: Obj;
}

export interface RunOptions {
  decide?: Decide;
  ids?: Record<string, string>;
  state?: Map<string, unknown>;
  /** The broker's answer to the forwarded request (split: the allowed part; filter: the request as is); default: the API's default response. */
  broker?: (forwarded: Obj | undefined) => Obj;
  /** Switches of the broker-credential APIs (default: all off). */
  credentialApis?: Partial<CredentialApis>;
}

/**
 * Runs the API's rule on a request built from `fields` at version v, and round-trips whatever
 * the outcome produces through the codec at that version.
 */
export function run(apiKey: number, v: number, fields: Obj, opts: RunOptions = {}): Run {
  const rule = ruleFor(apiKey);
  if (!rule) throw new Error(`no rule for ${apiKey}`);
  const req = requestAt(apiKey, v, fields);
  const ctx = fakeContext(v, opts.decide ?? allowAll, opts.ids, opts.state, { credentialApis: opts.credentialApis });
  const outcome = rule.authorize(req, ctx) as Outcome;
  const out: Run = { outcome, asked: ctx.asked, refused: ctx.refused, authorizeAsked: [...ctx.asked] };
  const brokerAnswer = (fwd: Obj | undefined): Obj => {
    const b = opts.broker ? opts.broker(fwd) : (defaultResponse(apiKey) as Obj);
    return responseRoundTrip(apiKey, v, b);
  };
  switch (outcome.kind) {
    case 'deny':
      out.response = responseRoundTrip(apiKey, v, outcome.response);
      break;
    case 'split':
      out.forwarded = requestRoundTrip(apiKey, v, outcome.request);
      out.merged = responseRoundTrip(apiKey, v, outcome.merge(brokerAnswer(out.forwarded)));
      break;
    case 'filter':
      out.merged = responseRoundTrip(apiKey, v, outcome.filter(brokerAnswer(req)));
      break;
  }
  return out;
}


/** Every version of an API in a range that the codec supports. */
export function versions(apiKey: number, from?: number, to?: number): number[] {
  const c = apiCodec(apiKey)!;
  const out: number[] = [];
  for (let v = Math.max(from ?? c.minVersion, c.minVersion); v <= Math.min(to ?? c.maxVersion, c.maxVersion); v++) out.push(v);
  return out;
}

export const ID_A = 'AAAAAAAAAAAAAAAAAAAAAQ';
export const ID_B = 'AAAAAAAAAAAAAAAAAAAAAg';
export const ID_UNKNOWN = 'AAAAAAAAAAAAAAAAAAAAAw';
/** The topic names of ID_A and ID_B. */
export const IDS: Record<string, string> = { [ID_A]: 'a', [ID_B]: 'b' };
const ID_OF: Record<string, string> = { a: ID_A, b: ID_B, c: ID_UNKNOWN };

export interface TopicCase {
  rule: TopicRule;
  /** The request's topic and partition defaults (partition absent: partitions are numbers). */
  topic: () => Obj;
  partition?: () => Obj;
  /** Other request fields. */
  fields?: (v: number) => Obj;
  /** Actions asked before the topics' (group, transactional id). */
  before?: (v: number) => string[];
  /** The broker's answer for a forwarded request (default: every topic with error 0). */
  broker?: (forwarded: Obj, v: number) => Obj;
}

/** The request's topic entries for names (ids on id-based versions; "c" has an unknown id). */
export function topicsFor(c: TopicCase, v: number, names: string[]): Obj[] {
  const { req } = c.rule;
  return names.map((n) => {
    const t = { ...c.topic(), [req.name]: n };
    if (req.id && c.rule.byId?.(v)) t[req.id] = ID_OF[n];
    t[req.parts] = [0, 1].map((p) => (req.part && c.partition ? { ...c.partition(), [req.part]: p } : p));
    return t;
  });
}

/** A broker's answer to a forwarded topic request: every topic and partition with error 0. */
export function echoTopics(rule: TopicRule, forwarded: Obj, v: number): Obj {
  const byId = rule.byId?.(v) ?? false;
  const res = defaultResponse(rule.apiKey)!;
  res[rule.res.list] = (forwarded[rule.req.list] as Obj[]).map((t) => deniedTopic(rule, t, 0, byId, IDS[t[rule.req.id!]]));
  return res;
}

/** The partition error codes of the answer's topics, in order: [[key, [codes]]]. */
export function topicCodes(rule: TopicRule, res: Obj, v: number): Array<[string, number[]]> {
  const byId = rule.byId?.(v) ?? false;
  return (res[rule.res.list] as Obj[]).map((t) => [
    byId ? IDS[t[rule.res.id!]] ?? 'c' : t[rule.res.name],
    (t[rule.res.parts] as Obj[]).map((p) => p[rule.res.error ?? 'errorCode']),
  ]);
}

/**
 * The standard cases of a per-topic rule at every version: everything allowed (allow, one
 * check per topic), one topic denied (split: forwarded without it, merged in request order with
 * TOPIC_AUTHORIZATION_FAILED), every topic denied (deny), an unknown id (UNKNOWN_TOPIC_ID).
 */
export function topicRuleCases(name: string, c: TopicCase, vs: number[]): void {
  const { rule } = c;
  const op = rule.op;
  describeBlock(name, () => {
    it.each(vs)('v%i: all topics allowed → allow, one check per topic', (v) => {
      const r = run(rule.apiKey, v, { ...c.fields?.(v), [rule.req.list]: topicsFor(c, v, ['a', 'b', 'a']) }, { ids: IDS });
      expect(r.outcome.kind).toBe('allow');
      expect(r.asked).toEqual([...(c.before?.(v) ?? []), `${op} topic:a`, `${op} topic:b`]);
    });
    it.each(vs)('v%i: one topic denied → split and merge in request order', (v) => {
      const r = run(rule.apiKey, v, { ...c.fields?.(v), [rule.req.list]: topicsFor(c, v, ['b', 'a']) }, {
        ids: IDS,
        decide: denyOnly(`${op} topic:b`),
        broker: (fwd) => (c.broker ?? ((f: Obj, vv: number) => echoTopics(rule, f, vv)))(fwd!, v),
      });
      expect(r.outcome.kind).toBe('split');
      expect(r.outcome.kind === 'split' && r.outcome.errorCode).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      expect((r.forwarded![rule.req.list] as Obj[]).length).toBe(1);
      expect(topicCodes(rule, r.merged!, v)).toEqual([
        ['b', [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
        ['a', [0, 0]],
      ]);
    });
    it.each(vs)('v%i: every topic denied → deny', (v) => {
      const r = run(rule.apiKey, v, { ...c.fields?.(v), [rule.req.list]: topicsFor(c, v, ['a', 'b']) }, { ids: IDS, decide: denyOnly(`${op} topic:a`, `${op} topic:b`) });
      expect(r.outcome.kind).toBe('deny');
      expect(topicCodes(rule, r.response!, v).map(([, codes]) => codes)).toEqual([
        [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ]);
    });
    const idVersions = vs.filter((v) => rule.byId?.(v));
    if (idVersions.length > 0) {
      it.each(idVersions)('v%i: an unknown topic id → UNKNOWN_TOPIC_ID, never forwarded', (v) => {
        const r = run(rule.apiKey, v, { ...c.fields?.(v), [rule.req.list]: topicsFor(c, v, ['a', 'c']) }, { ids: IDS, broker: (fwd) => echoTopics(rule, fwd!, v) });
        expect(r.outcome.kind).toBe('split');
        expect(topicCodes(rule, r.merged!, v)).toEqual([
          ['a', [0, 0]],
          ['c', [ErrorCode.UNKNOWN_TOPIC_ID, ErrorCode.UNKNOWN_TOPIC_ID]],
        ]);
        expect(ruleFor(rule.apiKey)!.topicIds?.(requestAt(rule.apiKey, v, { ...c.fields?.(v), [rule.req.list]: topicsFor(c, v, ['a', 'c']) }), v)).toEqual(
          expect.arrayContaining([ID_A, ID_UNKNOWN]),
        );
      });
    }
  });
}

/**
 * The cases of an API authorized as a whole: allowed → allow asking exactly `actions`; the
 * first action denied → the API-shaped denial (round-tripped at every version) with `code`,
 * at top level where the API has an errorCode; `check` inspects the denial further.
 */
export function wholeRuleCases(
  apiKey: number,
  actions: string[],
  code: number,
  vs: number[],
  opts: { fields?: (v: number) => Obj; check?: (res: Obj, v: number) => void; topLevel?: boolean; credentialApis?: Partial<CredentialApis> } = {},
): void {
  const credentialApis = opts.credentialApis;
  describeBlock(`${apiCodec(apiKey)!.name} as a whole`, () => {
    it.each(vs)(`v%i: ${actions.join(', ')} → allow`, (v) => {
      const r = run(apiKey, v, opts.fields?.(v) ?? {}, { credentialApis });
      expect(r.outcome.kind).toBe('allow');
      expect(r.asked).toEqual(actions);
    });
    it.each(vs)(`v%i: ${actions[0]} denied → the API-shaped denial`, (v) => {
      const r = run(apiKey, v, opts.fields?.(v) ?? {}, { decide: denyOnly(actions[0]!), credentialApis });
      expect(r.outcome.kind).toBe('deny');
      expect(r.outcome.kind === 'deny' && r.outcome.errorCode).toBe(code);
      expect(r.asked).toEqual([actions[0]]);
      if (opts.topLevel !== false && writesErrorCode(apiKey, v)) expect(r.response!.errorCode).toBe(code);
      opts.check?.(r.response!, v);
    });
  });
}

/** Whether the API's response at v has a top-level errorCode (it changes the encoding). */
export function writesErrorCode(apiKey: number, v: number): boolean {
  const c = apiCodec(apiKey)!;
  const body = defaultResponse(apiKey)!;
  if (!('errorCode' in body)) return false;
  return !encode(c.writeResponse, v, { ...body, errorCode: 1 }).equals(encode(c.writeResponse, v, { ...body, errorCode: 2 }));
}

/** wholeRuleCases for one operation on the cluster. */
export function clusterRuleCases(
  apiKey: number,
  operation: string,
  vs: number[],
  opts: { code?: number; fields?: (v: number) => Obj; check?: (res: Obj, v: number) => void; credentialApis?: Partial<CredentialApis> } = {},
): void {
  wholeRuleCases(apiKey, [`${operation} cluster:kafka-cluster`], opts.code ?? ErrorCode.CLUSTER_AUTHORIZATION_FAILED, vs, { ...opts, topLevel: opts.code === undefined });
}

export interface FlatCase {
  apiKey: number;
  /** The request's list field and an item for a name. */
  list: string;
  item: (name: string, v: number) => unknown;
  /** The answer's list field, an entry's name field and default. */
  resList: string;
  resName: string;
  result: () => Obj;
  /** The action asked for a name, and the code a denied name is answered with. */
  action: (name: string) => string;
  code: number;
  fields?: (v: number) => Obj;
  /** Actions asked before the items'. */
  before?: string[];
  /** The outcome when nothing is denied (filter where answers are rewritten anyway), by version. */
  allowed?: 'allow' | 'filter' | ((v: number) => 'allow' | 'filter');
  /** What else is decided (default: everything else allowed). */
  base?: Decide;
}

/** The answer's [name, errorCode] pairs. */
export function entryCodes(c: Pick<FlatCase, 'resList' | 'resName'>, res: Obj): Array<[string, number]> {
  return (res[c.resList] as Obj[]).map((e) => [e[c.resName], e.errorCode]);
}

/**
 * The standard cases of a per-item rule: nothing denied (allow, one check per item), one item
 * denied (split, merged in request order), every item denied (deny).
 */
export function flatRuleCases(name: string, c: FlatCase, vs: number[]): void {
  const fields = (v: number, names: string[]): Obj => ({ ...c.fields?.(v), [c.list]: names.map((n) => c.item(n, v)) });
  const broker = (fwd: Obj | undefined, v: number): Obj => {
    const res = defaultResponse(c.apiKey)!;
    res[c.resList] = ((fwd?.[c.list] ?? []) as unknown[]).map((it) => ({ ...c.result(), [c.resName]: nameOfItem(it, c, v) }));
    return res;
  };
  describeBlock(name, () => {
    it.each(vs)('v%i: all allowed → no denial, one check per item', (v) => {
      const r = run(c.apiKey, v, fields(v, ['a', 'b']), { decide: c.base, broker: (f) => broker(f, v) });
      expect(r.outcome.kind).toBe(typeof c.allowed === 'function' ? c.allowed(v) : (c.allowed ?? 'allow'));
      expect(r.authorizeAsked.filter((a) => !(c.before ?? []).includes(a))).toEqual([c.action('a'), c.action('b')]);
    });
    it.each(vs)('v%i: one denied → split, merged in request order', (v) => {
      const r = run(c.apiKey, v, fields(v, ['b', 'a']), { decide: and(c.base, denyOnly(c.action('b'))), broker: (f) => broker(f, v) });
      expect(r.outcome.kind).toBe('split');
      expect((r.forwarded![c.list] as unknown[]).map((it) => nameOfItem(it, c, v))).toEqual(['a']);
      expect(entryCodes(c, r.merged!)).toEqual([
        ['b', c.code],
        ['a', 0],
      ]);
    });
    it.each(vs)('v%i: all denied → deny', (v) => {
      const r = run(c.apiKey, v, fields(v, ['a', 'b']), { decide: and(c.base, denyOnly(c.action('a'), c.action('b'))) });
      expect(r.outcome.kind).toBe('deny');
      expect(entryCodes(c, r.response!)).toEqual([
        ['a', c.code],
        ['b', c.code],
      ]);
    });
  });
}

function and(a: Decide | undefined, b: Decide): Decide {
  return a ? (x) => a(x) && b(x) : b;
}

function nameOfItem(it: unknown, c: FlatCase, v: number): string {
  if (typeof it === 'string') return it;
  // the item's name is the field the case's item() put the name in
  const probe = c.item('\u0000', v) as Obj;
  const field = Object.keys(probe).find((k) => probe[k] === '\u0000')!;
  return (it as Obj)[field];
}
