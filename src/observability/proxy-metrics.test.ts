/** The proxy's Prometheus counters each follow their own number in the proxy's stats. */
import { describe, expect, it } from 'vitest';
import type { GatehouseProxy } from '../proxy/server.js';
import { proxyMetrics } from './proxy-metrics.js';

describe('proxy metrics', () => {
  it('each counter follows its own stat across scrapes', async () => {
    const stats = { clientConnections: 5, upstreamConnections: 3, closedByCode: { GH_CLIENT_CLOSED: 4 }, cutThroughResponses: 2, zeroCopyBytes: 1000 };
    const registry = proxyMetrics({ connectionCount: 1, pinnedReadBytes: 0, stats } as unknown as GatehouseProxy);
    const value = async (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(await registry.metrics())?.[1]);
    expect(await value('gatehouse_client_connections_opened_total')).toBe(5);
    expect(await value('gatehouse_upstream_connections_opened_total')).toBe(3);
    expect(await value('gatehouse_client_connections_closed_total')).toBe(4);
    expect(await value('gatehouse_responses_cut_through_total')).toBe(2);
    Object.assign(stats, { clientConnections: 9, upstreamConnections: 4 });
    expect(await value('gatehouse_client_connections_opened_total')).toBe(9);
    expect(await value('gatehouse_upstream_connections_opened_total')).toBe(4);
    expect(await value('gatehouse_zero_copy_bytes_total')).toBe(1000);
  });
});
