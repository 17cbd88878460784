/**
 * Prometheus metrics of the proxy itself, read from its counters when scraped (nothing is
 * counted twice on the data path): connections, upstream connections, closes by code,
 * responses passed straight through, and pooled read buffers pinned.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { GatehouseProxy } from '../proxy/server.js';

/**
 * A counter that follows a number kept elsewhere (prom-client counters only go up by inc()).
 * `last` is the counter's own: what it was last set to, per label set.
 */
function follow(counter: Counter<string>, labels: Record<string, string>, last: Map<string, number>, value: number): void {
  const key = JSON.stringify(labels);
  const before = last.get(key) ?? 0;
  if (value > before) counter.inc(labels, value - before);
  last.set(key, value);
}

export function proxyMetrics(proxy: GatehouseProxy): Registry {
  const registry = new Registry();
  // What each counter last followed, per label set (one map per counter: their label sets overlap).
  const seen = { opened: new Map<string, number>(), upstream: new Map<string, number>(), closed: new Map<string, number>(), cutThrough: new Map<string, number>(), zeroCopy: new Map<string, number>() };
  new Gauge({
    name: 'gatehouse_client_connections',
    help: 'Client connections open now',
    registers: [registry],
    collect() {
      this.set(proxy.connectionCount);
    },
  });
  new Gauge({
    name: 'gatehouse_read_buffers_pinned_bytes',
    help: 'Bytes of pooled read buffers held past their read: requests in use and incomplete requests (slow clients cannot grow it beyond about one buffer each)',
    registers: [registry],
    collect() {
      this.set(proxy.pinnedReadBytes);
    },
  });
  new Counter({
    name: 'gatehouse_client_connections_opened_total',
    help: 'Client connections accepted since start',
    registers: [registry],
    collect() {
      follow(this, {}, seen.opened, proxy.stats.clientConnections);
    },
  });
  new Counter({
    name: 'gatehouse_upstream_connections_opened_total',
    help: 'Connections the proxy opened to brokers since start (client traffic and its own: discovery, ApiVersions answers)',
    registers: [registry],
    collect() {
      follow(this, {}, seen.upstream, proxy.stats.upstreamConnections);
    },
  });
  new Counter({
    name: 'gatehouse_client_connections_closed_total',
    help: 'Client connections closed, by close code (GH_CLIENT_CLOSED, GH_STAGE_CLOSED, ...)',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      for (const [code, n] of Object.entries(proxy.stats.closedByCode)) follow(this, { code }, seen.closed, n);
    },
  });
  new Counter({
    name: 'gatehouse_responses_cut_through_total',
    help: 'Broker responses forwarded to the client chunk by chunk as they arrived (no stage needed them whole)',
    registers: [registry],
    collect() {
      follow(this, {}, seen.cutThrough, proxy.stats.cutThroughResponses);
    },
  });
  new Counter({
    name: 'gatehouse_zero_copy_bytes_total',
    help: 'Bytes of cut-through responses moved from broker to client inside the kernel (zero-copy relay)',
    registers: [registry],
    collect() {
      follow(this, {}, seen.zeroCopy, proxy.stats.zeroCopyBytes);
    },
  });
  return registry;
}
