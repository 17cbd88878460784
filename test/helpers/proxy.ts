/**
 * Starts a Gatehouse proxy in front of a broker for a test, on ephemeral loopback ports, with
 * its JSON log lines kept in memory so tests can assert on logged reasons.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { GatehouseConfigInput } from '../../src/config/schema.js';
import { Pipeline, pipelineFromConfig } from '../../src/pipeline.js';
import { GatehouseProxy, type ProxyOptions } from '../../src/proxy/server.js';
import type { Stage } from '../../src/stage/stage.js';

export interface TestProxy {
  proxy: GatehouseProxy;
  /** host:port for clients. */
  bootstrap: string;
  logs: Array<Record<string, unknown>>;
  pipeline: Pipeline;
  stop(): Promise<void>;
}

export type ProxyOverrides = Omit<Partial<GatehouseConfigInput>, 'upstream'> & { upstream?: Partial<GatehouseConfigInput['upstream']> };

export interface TestProxyOptions extends ProxyOptions {
  /** Stages placed after the identity stage built from the config (ignored when `stages` is given). */
  extraStages?: Stage[];
  /** Environment for `${NAME}` in the config (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where the config would live, for sections naming files relative to it. */
  configPath?: string;
}

export async function startProxy(upstreamBootstrap: string, overrides: ProxyOverrides = {}, testOpts: TestProxyOptions = {}): Promise<TestProxy> {
  const { extraStages = [], env = process.env, configPath, ...opts } = testOpts;
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: process.env.GATEHOUSE_TEST_LOG_LEVEL ?? 'debug' }, sink);
  const config = parseConfig({
    ...overrides,
    listen: { host: '127.0.0.1', advertisedHost: '127.0.0.1', bootstrapPort: 0, brokerPortBase: 0, ...overrides.listen },
    upstream: { bootstrap: [upstreamBootstrap], ...overrides.upstream },
  }, 'test config', env);
  // Without explicit stages, the proxy runs the stages its config asks for, as `gatehouse run` does.
  const pipeline = opts.stages ? new Pipeline([]) : await pipelineFromConfig(config, logger, { configPath });
  await pipeline.start();
  const stages = opts.stages ?? [...pipeline.stages, ...extraStages];
  const proxy = new GatehouseProxy(config, { logger, ...opts, stages });
  await proxy.start();
  return {
    proxy,
    bootstrap: `127.0.0.1:${proxy.bootstrapListenerPort}`,
    logs,
    pipeline,
    stop: async () => {
      await proxy.stop(2000);
      await pipeline.close();
    },
  };
}
