/**
 * The stages a configuration asks for, in the order requests meet them: identity (who is this),
 * policy (may they), then audit (record it). Each component may need starting (a file watcher,
 * a producer) and closing; the pipeline does both in order.
 */
import type { Logger } from 'pino';
import type { GatehouseConfig } from './config/schema.js';
import { identityStageFromConfig } from './identity/from-config.js';
import type { Stage } from './proxy/stage.js';
import { auditFromConfig } from './audit/from-config.js';

/** A stage with a life of its own (a file watcher, a producer). */
export interface Component {
  readonly stage: Stage;
  start?(): Promise<void>;
  close?(): Promise<void>;
}

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

export async function pipelineFromConfig(config: GatehouseConfig, log: Logger, opts: PipelineOptions = {}): Promise<Pipeline> {
  const components: Component[] = [];
  const identity = identityStageFromConfig(config.identity, log);
  if (identity) components.push({ stage: identity });
  else log.warn('no identity section: clients are not authenticated');
  // Audit: intake first (arrival time, session opened, fail-closed refusals), recorder last (sees every answer as the client gets it).
  const audit = auditFromConfig(config, log, { configPath: opts.configPath });
  if (audit) {
    components.unshift(audit.intake);
    components.push(audit.recorder);
  }
  return new Pipeline(components);
}
