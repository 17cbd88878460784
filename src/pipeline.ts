/**
 * The stages a configuration asks for, in the order requests meet them: identity (who is this),
 * policy (may they), then audit (record it). Each component may need starting (a file watcher,
 * a producer) and closing; the pipeline does both in order.
 */
import { zeroCopy } from './proxy/zero-copy.js';
import type { Logger } from 'pino';
import type { GatehouseConfig } from './config/schema.js';
import { identityStageFromConfig } from './identity/from-config.js';
import type { Component } from './stage/component.js';
import type { Stage } from './stage/stage.js';
import type { ConnectionInfo } from './stage/connection-info.js';
import { auditFromConfig } from './audit/from-config.js';
import { upstreamConnectorFromConfig } from './identity/upstream/from-config.js';
import { fetchClusterMetadata } from './proxy/discovery.js';
import { parseHostPort } from './proxy/upstream.js';
import { DEFAULT_PROTECTED, type ProtectedTopics } from './policy/authorizer.js';
import { policyLocation } from './policy/load.js';
import { PolicyStage } from './policy/stage.js';
import { credentialApisFromConfig } from './policy/credential-apis.js';
import { PolicyStore } from './policy/store.js';
import { MaskingStage } from './masking/stage.js';
import { auditMasker } from './masking/audit-masker.js';
import { TopicIds, TopicIdsStage, type TopicListing } from './policy/topic-ids.js';
import { FetchSessionStage } from './apis/fetch-session.js';
import { getPrincipal } from './identity/principal.js';


export interface PipelineOptions {
  /** The config file's path, for sections that name files relative to it. */
  configPath?: string;
}

export class Pipeline {
  constructor(readonly components: readonly Component[]) {}

  get stages(): Stage[] {
    return this.components.map((c) => c.stage);
  }

  async start(): Promise<void> {
    for (const c of this.components) await c.start?.();
  }

  async close(): Promise<void> {
    for (const c of [...this.components].reverse()) await c.close?.();
  }
}

/** The topics no client may write whatever the policy says: the audit topic and the proxy's internal ones. */
export function protectedTopics(config: GatehouseConfig): ProtectedTopics {
  const audit = config.audit?.topic;
  return { names: audit ? [audit] : [], prefixes: DEFAULT_PROTECTED.prefixes };
}

/** Lists the cluster's topic ids with the proxy's own connection settings (for requests naming unknown ids). */
function topicListing(config: GatehouseConfig): TopicListing {
  const connector = upstreamConnectorFromConfig(config.upstream);
  const targets = config.upstream.bootstrap.map(parseHostPort);
  return async () => {
    let last: unknown;
    for (const target of targets) {
      try {
        const md = await fetchClusterMetadata(connector, target, config.upstream.connectTimeoutMs, true);
        return md.topics.map((t) => [t.topicId, t.name ?? ''] as [string, string]);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
}

/** Who owns the fetch sessions a connection opens: its principal, by issuer and name. */
function sessionOwner(conn: ConnectionInfo): string {
  const p = getPrincipal(conn);
  return p ? JSON.stringify([p.issuer, p.name]) : 'ANONYMOUS';
}

export async function pipelineFromConfig(config: GatehouseConfig, log: Logger, opts: PipelineOptions = {}): Promise<Pipeline> {
  const components: Component[] = [];
  const identity = identityStageFromConfig(config.identity, log, config.limits.loginAttempts);
  if (identity) components.push({ stage: identity });
  else log.warn('no identity section: clients are not authenticated');

  const location = policyLocation(config, opts.configPath);
  // Fetch and share sessions, proxy-wide, behind identity (their owner is the principal) and
  // ahead of policy and audit, which read them.
  if (location || config.audit) components.push({ stage: new FetchSessionStage({ owner: sessionOwner, log: log.child({ stage: 'fetch-sessions' }) }) });
  // One map of topic ids for policy and audit, learned from Metadata answers ahead of both.
  const topicIds = location || config.audit ? new TopicIds(topicListing(config)) : undefined;
  let store: PolicyStore | undefined;
  if (location) {
    store = new PolicyStore({ location, protectedTopics: protectedTopics(config), log });
    const policy = store;
    const stage = new PolicyStage({ source: store, topicIds, log, credentialApis: credentialApisFromConfig(config) });
    components.push({
      stage,
      start: async () => {
        policy.start({ watch: config.policy?.watch !== false });
      },
      close: async () => policy.close(),
    });
    // Masking rules live in the policy file: the stage holds only Fetch answers they apply to.
    components.push({ stage: new MaskingStage({ source: store, topicIds: topicIds! }) });
  } else {
    log.warn('no policy section: every authenticated request is forwarded');
  }
  if (config.performance.zeroCopy && !zeroCopy.available) log.info({ reason: zeroCopy.reason }, 'zero-copy relay unavailable: responses are relayed through the process');
  // Audit: intake first (arrival time, session opened, fail-closed refusals), recorder last (sees every answer as the client gets it).
  // Captured payloads pass the policy's masking rules, whoever read them.
  const masker = store ? auditMasker(() => store.policy.masking) : undefined;
  const audit = auditFromConfig(config, log, { configPath: opts.configPath, topicIds, ...(masker ? { masker } : {}) });
  if (audit) {
    components.unshift(audit.intake);
    components.push(audit.recorder);
  }
  if (topicIds) components.unshift({ stage: new TopicIdsStage(topicIds) });
  return new Pipeline(components);
}
