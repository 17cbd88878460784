/**
 * Starts a Gatehouse proxy in front of a broker for a test, on ephemeral loopback ports, with
 * its JSON log lines kept in memory so tests can assert on logged reasons.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { GatehouseConfigInput } from '../../src/config/schema.js';
import { GatehouseProxy, type ProxyOptions } from '../../src/proxy/server.js';

export interface TestProxy {
  proxy: GatehouseProxy;
  /** host:port for clients. */
  bootstrap: string;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export type ProxyOverrides = Omit<Partial<GatehouseConfigInput>, 'upstream'> & { upstream?: Partial<GatehouseConfigInput['upstream']> };

export async function startProxy(upstreamBootstrap: string, overrides: ProxyOverrides = {}, opts: ProxyOptions = {}): Promise<TestProxy> {
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
  });
  const proxy = new GatehouseProxy(config, { logger, ...opts });
  await proxy.start();
  return {
    proxy,
    bootstrap: `127.0.0.1:${proxy.bootstrapListenerPort}`,
    logs,
    stop: () => proxy.stop(2000),
  };
}
