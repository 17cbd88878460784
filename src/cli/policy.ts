/**
 * `gatehouse policy check` and `gatehouse policy lint`: the policy as people ask about it.
 *
 *   gatehouse policy check --config FILE --principal P [--issuer S] [--groups a,b] [--claims JSON] --op Read --topic T
 *   gatehouse policy lint FILE [--config FILE] [--topics a,b] [--groups a,b]
 */
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import type { GatehouseConfig } from '../config/schema.js';
import { identitySources, principalName, qualifiedName, qualifiesNames } from '../identity/sources.js';
import { protectedTopics } from '../pipeline.js';
import { Policy, type Subject } from '../policy/authorizer.js';
import { clusterNames } from '../policy/cluster-names.js';
import { lintPolicy, type KnownNames } from '../policy/lint.js';
import { policyLocation, readPolicyFile } from '../policy/load.js';
import { CLUSTER_NAME, EXPLICIT_ONLY, OPERATIONS, type Operation, type ResourceType } from '../policy/model.js';

export const POLICY_HELP = `Policy commands:
  gatehouse policy check (--config FILE | --policy FILE) --principal P [--issuer S]
                         [--groups G1,G2] [--claims JSON] --op OPERATION
                         (--topic T | --group G | --transactional-id T | --cluster)
      Prints ALLOW or DENY and the rule that decided; exits 0 on allow, 1 on deny.
      P is the principal's name, S its identity source (an issuer's name, local, mtls);
      with several sources in --config's identity section, P may be written S:name.
  gatehouse policy lint (FILE | --config FILE) [--topics T1,T2] [--groups G1,G2] [--offline]
      Reports roles nobody holds, shadowed or overridden rules, and patterns that match no
      topic or group (names from --topics/--groups, or read from the cluster with --config's
      upstream settings unless --offline); exits 1 when it finds something.`;

function list(v: string | undefined): string[] {
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

function loadPolicy(configPath: string | undefined, policyPath: string | undefined): { policy: Policy; config: GatehouseConfig | undefined } {
  const config = configPath ? loadConfigFile(configPath) : undefined;
  if (policyPath) return { policy: new Policy(readPolicyFile({ path: policyPath, inline: false }), config ? protectedTopics(config) : undefined), config };
  if (!configPath || !config) throw new UsageError('give --config FILE or --policy FILE');
  const loc = policyLocation(config, configPath);
  if (!loc) throw new UsageError(`${configPath} has no policy section`);
  return { policy: new Policy(readPolicyFile(loc), protectedTopics(config)), config };
}

/**
 * The subject `--principal` (and `--issuer`) stand for, named as the proxy would name it under
 * `config`'s identity section: with several sources `source:name`, the source from `--issuer`
 * or from the principal's own `source:` prefix. Without an identity section the principal is
 * taken as given, its source only from `--issuer`.
 */
function subjectOf(principal: string, issuer: string | undefined, config: GatehouseConfig | undefined, groups: string[], claims: Record<string, unknown>): Subject {
  const sources = identitySources(config?.identity);
  if (sources.length === 0) {
    return issuer === undefined ? { name: principal, groups, claims } : { name: principal, source: issuer, qualifiedName: qualifiedName(issuer, principal), groups, claims };
  }
  const qualify = qualifiesNames(config?.identity);
  let source = issuer;
  let bare = principal;
  if (source === undefined) {
    const prefix = qualify ? sources.find((s) => principal.startsWith(`${s}:`)) : sources[0];
    if (prefix === undefined) throw new UsageError(`the config has several identity sources (${sources.join(', ')}): give --issuer, or the principal as source:name`);
    source = prefix;
    if (qualify) bare = principal.slice(prefix.length + 1);
  } else if (!sources.includes(source)) {
    throw new UsageError(`--issuer must be one of the config's identity sources: ${sources.join(', ')}`);
  }
  return { name: principalName(source, bare, qualify), source, qualifiedName: qualifiedName(source, bare), groups, claims };
}

export class UsageError extends Error {}

export async function policyCommand(args: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'check') return check(rest, out);
  if (sub === 'lint') return lint(rest, out);
  throw new UsageError(`policy needs check or lint\n\n${POLICY_HELP}`);
}

function check(args: string[], out: (s: string) => void): number {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      policy: { type: 'string' },
      principal: { type: 'string' },
      issuer: { type: 'string' },
      groups: { type: 'string' },
      claims: { type: 'string' },
      op: { type: 'string' },
      topic: { type: 'string' },
      group: { type: 'string' },
      'transactional-id': { type: 'string' },
      cluster: { type: 'boolean' },
    },
  });
  if (!values.principal) throw new UsageError('policy check needs --principal');
  const op = OPERATIONS.find((o) => o.toLowerCase() === (values.op ?? '').toLowerCase());
  if (!op) throw new UsageError(`--op must be one of ${OPERATIONS.join(', ')}`);
  const targets: Array<[ResourceType, string]> = [];
  if (values.topic) targets.push(['topic', values.topic]);
  if (values.group) targets.push(['group', values.group]);
  if (values['transactional-id']) targets.push(['transactionalId', values['transactional-id']]);
  if (values.cluster) targets.push(['cluster', CLUSTER_NAME]);
  if (targets.length !== 1) throw new UsageError('give exactly one of --topic, --group, --transactional-id, --cluster');
  let claims: Record<string, unknown> = {};
  if (values.claims) {
    try {
      claims = JSON.parse(values.claims) as Record<string, unknown>;
    } catch {
      throw new UsageError('--claims must be a JSON object');
    }
  }
  const { policy, config } = loadPolicy(values.config, values.policy);
  const subject = policy.forSubject(subjectOf(values.principal, values.issuer, config, list(values.groups), claims));
  const who = subject.subject;
  const [resourceType, name] = targets[0]!;
  const c = subject.decide({ resourceType, name, operation: op as Operation });
  const what = `${op} ${resourceType}${resourceType === 'cluster' ? '' : `:${name}`}`;
  const roles = subject.roleNames.length ? subject.roleNames.join(', ') : '(none)';
  let why: string;
  const rule = policy.roles.get(c.rule.split('/')[0]!)?.rules[Number(c.rule.split('/')[1])];
  if (rule) {
    const pat = rule.resourceType === 'cluster' ? '' : ` ${rule.pattern.value}${rule.pattern.type === 'prefix' ? ' (prefix)' : ''}`;
    why = `rule ${c.rule}: ${rule.effect} ${[...rule.operations].join(',')} on ${rule.resourceType}${pat}${rule.source.description ? ` — ${rule.source.description}` : ''}`;
  } else if (c.rule === 'protected-topic') {
    why = 'protected topic: no client writes it, and only a rule naming it literally grants reading it';
  } else if (EXPLICIT_ONLY.has(op as Operation)) {
    why = `no rule allows it (default deny; only a rule naming ${op} grants it, All does not)`;
  } else {
    why = 'no rule allows it (default deny)';
  }
  const issuer = who.source ?? '(none given: roles pinned to issuers do not apply)';
  out(`${c.allowed ? 'ALLOW' : 'DENY'} ${what} for ${who.name}\n  issuer: ${issuer}\n  roles: ${roles}\n  decided by ${why}\n`);
  return c.allowed ? 0 : 1;
}

async function lint(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      topics: { type: 'string' },
      groups: { type: 'string' },
      offline: { type: 'boolean' },
    },
  });
  const { policy, config } = loadPolicy(values.config, positionals[0]);
  const known: { topics?: string[]; groups?: string[] } = {};
  if (values.topics) known.topics = list(values.topics);
  if (values.groups) known.groups = list(values.groups);
  if (config && !values.offline && !values.topics && !values.groups) {
    try {
      Object.assign(known, await clusterNames(config));
    } catch (err) {
      out(`note: could not read topics and groups from the cluster (${(err as Error).message}); skipping the matches-nothing check\n`);
    }
  }
  const findings = lintPolicy(policy, known as KnownNames, config?.identity ? identitySources(config.identity) : undefined);
  for (const f of findings) out(`${f.kind}: ${f.message}\n`);
  out(findings.length ? `${findings.length} finding${findings.length > 1 ? 's' : ''}\n` : 'no findings\n');
  return findings.length ? 1 : 0;
}

