/**
 * The operations endpoint: Prometheus metrics (`/metrics`: process, proxy, identity, policy, audit) and
 * health (`/healthz`: the process answers; `/readyz`: the proxy listens and is not stopping),
 * for Kubernetes probes and scrapers. Plain HTTP on its own port, off unless configured.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { auditMetrics } from '../audit/metrics.js';
import { identityRegistry } from '../identity/metrics.js';
import { policyRegistry } from '../policy/metrics.js';
import { maskingRegistry } from '../masking/stage.js';
import type { GatehouseProxy } from '../proxy/server.js';
import { proxyMetrics } from './proxy-metrics.js';

export interface ObservabilityOptions {
  host: string;
  port: number;
  proxy: GatehouseProxy;
  log: Logger;
}

export class ObservabilityServer {
  private constructor(
    private readonly server: Server,
    /** The port it listens on (useful with port 0). */
    readonly port: number,
  ) {}

  static async start(opts: ObservabilityOptions): Promise<ObservabilityServer> {
    const processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'gatehouse_' });
    const registry = Registry.merge([processRegistry, proxyMetrics(opts.proxy), identityRegistry, policyRegistry, maskingRegistry, auditMetrics.registry]);
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ready = opts.proxy.ready;
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz, /readyz\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    opts.log.info({ host: opts.host, port }, 'metrics and health endpoint listening');
    return new ObservabilityServer(server, port);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
