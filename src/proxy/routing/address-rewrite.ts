/**
 * Keeps every client on the proxy: each broker address in a response is recorded as the real
 * upstream address of its node id and replaced by the proxy's listener for that node.
 *
 * Responses that carry broker addresses: Metadata, FindCoordinator (one node before v4, a list
 * after), DescribeCluster, and the KIP-951 NodeEndpoints leader hints of Produce (v10+), Fetch
 * (v16+), ShareFetch and ShareAcknowledge. The hints are tagged fields after all the records;
 * when a response has none (the usual case) it is not re-encoded and leaves as it came. Fetch is
 * offered to clients up to v15 only (routing/api-versions.ts), so Fetch responses are normally
 * not asked for here and are cut through to the consumer as they arrive.
 *
 * DescribeQuorum (v2+) names the KRaft controllers' listeners. Controllers are not reachable
 * through the proxy, and a proxy address there would lead a tool to a broker instead, so their
 * listeners are removed: clients see the quorum's node ids and state, but no address.
 *
 * A client is always given addresses of the listener set it came in on: a connection to the TLS
 * set sees the TLS set's broker ports, one to the plaintext set the plaintext ports.
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import type { BrokerMap } from '../broker-map.js';
import type { ConnectionInfo } from '../../stage/connection-info.js';
import { isResponse, type InterceptedResponse, type Stage } from '../../stage/stage.js';
import type { HostPort } from '../upstream.js';

export interface ProxyAddressBook {
  readonly brokers: BrokerMap;
  /** The proxy address a client on `via`'s listener set should use for a node, binding its listener if needed. */
  addressFor(nodeId: number, via: ConnectionInfo): Promise<HostPort>;
  /** The proxy's bootstrap address as clients on `via`'s listener set use it. */
  bootstrap(via: ConnectionInfo): HostPort;
}

interface Endpoint {
  host: string;
  port: number;
}

/** The first version of each response that can carry addresses (others: every version). */
const ADDRESSES_FROM: Record<number, number> = {
  [ApiKey.DescribeQuorum]: 2,
  [ApiKey.Produce]: 10,
  [ApiKey.Fetch]: 16,
  [ApiKey.ShareFetch]: 0,
  [ApiKey.ShareAcknowledge]: 0,
};

export class AddressRewriteStage implements Stage {
  readonly name = 'address-rewrite';
  readonly interest = {
    responses: new Set<number>([
      ApiKey.Metadata,
      ApiKey.FindCoordinator,
      ApiKey.DescribeCluster,
      ApiKey.DescribeQuorum,
      ApiKey.Produce,
      ApiKey.Fetch,
      ApiKey.ShareFetch,
      ApiKey.ShareAcknowledge,
    ]),
    responseVersion: (apiKey: number, v: number) => (ADDRESSES_FROM[apiKey] === undefined ? true : v >= ADDRESSES_FROM[apiKey]!),
  };

  constructor(private readonly book: ProxyAddressBook) {}

  private async rewrite(nodeId: number, ep: Endpoint, via: ConnectionInfo): Promise<void> {
    if (nodeId < 0) return; // "no node" (e.g. FindCoordinator with an error)
    this.book.brokers.learn(nodeId, { host: ep.host, port: ep.port });
    const proxy = await this.book.addressFor(nodeId, via);
    ep.host = proxy.host;
    ep.port = proxy.port;
  }

  async onResponse(res: InterceptedResponse): Promise<void> {
    const { apiVersion } = res.request.header;
    const via = res.connection;
    if (isResponse(res, ApiKey.Metadata)) {
      const body = res.body();
      for (const b of body.brokers) await this.rewrite(b.nodeId, b, via);
      res.setBody(body);
    } else if (isResponse(res, ApiKey.FindCoordinator)) {
      const body = res.body();
      if (apiVersion < 4) await this.rewrite(body.errorCode === 0 ? body.nodeId : -1, body, via);
      for (const c of body.coordinators) await this.rewrite(c.errorCode === 0 ? c.nodeId : -1, c, via);
      res.setBody(body);
    } else if (isResponse(res, ApiKey.DescribeCluster)) {
      const body = res.body();
      for (const b of body.brokers) await this.rewrite(b.brokerId, b, via);
      res.setBody(body);
    } else if (isResponse(res, ApiKey.DescribeQuorum)) {
      const body = res.body();
      if (body.nodes.every((n) => n.listeners.length === 0)) return;
      for (const n of body.nodes) n.listeners = [];
      res.setBody(body);
    } else if (isResponse(res, ApiKey.Produce) || isResponse(res, ApiKey.Fetch) || isResponse(res, ApiKey.ShareFetch) || isResponse(res, ApiKey.ShareAcknowledge)) {
      // Only the leader hints, if any. They sit after the records, so the response is skimmed
      // first (records skipped, not copied) and decoded whole only when there are hints to rewrite.
      if (res.skim().nodeEndpoints.length === 0) return;
      const body = res.body();
      for (const n of body.nodeEndpoints) await this.rewrite(n.nodeId, n, via);
      res.setBody(body as never); // the body of this response's own API, read just above
    }
  }
}
