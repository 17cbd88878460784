/**
 * The topics and groups a cluster has, read with the proxy's own upstream settings (SASL, TLS),
 * for `policy lint`'s "matches nothing" check.
 */
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultListGroupsRequest, writeListGroupsRequest } from '../../protocol/generated/list-groups-request.js';
import { readListGroupsResponse } from '../../protocol/generated/list-groups-response.js';
import type { GatehouseConfig } from '../config/schema.js';
import { upstreamConnectorFromConfig } from '../identity/upstream/from-config.js';
import { ControlChannel } from '../proxy/control-channel.js';
import { fetchClusterMetadata } from '../proxy/discovery.js';
import { parseHostPort } from '../proxy/upstream.js';

/** ListGroups v4: understood by Kafka 3.9 and 4.x brokers. */
const LIST_GROUPS_VERSION = 4;

export async function clusterNames(config: GatehouseConfig): Promise<{ topics: string[]; groups: string[] }> {
  const connector = upstreamConnectorFromConfig(config.upstream);
  const timeout = config.upstream.connectTimeoutMs;
  const md = await fetchClusterMetadata(connector, parseHostPort(config.upstream.bootstrap[0]!), timeout, true);
  const topics = md.topics.map((t) => t.name ?? '').filter(Boolean);
  const groups = new Set<string>();
  // Each broker lists the groups it coordinates.
  for (const b of md.brokers) {
    const socket = await connector.connect({ host: b.host, port: b.port });
    const channel = new ControlChannel(socket, 'gatehouse-policy-lint');
    try {
      const r = await channel.request(ApiKey.ListGroups, LIST_GROUPS_VERSION, 2, (w) => writeListGroupsRequest(w, LIST_GROUPS_VERSION, defaultListGroupsRequest()));
      for (const g of readListGroupsResponse(r, LIST_GROUPS_VERSION).groups) groups.add(g.groupId);
    } finally {
      channel.detach();
      socket.destroy();
    }
  }
  return { topics, groups: [...groups] };
}
