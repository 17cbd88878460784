/**
 * The proxy's own Metadata request to the upstream cluster, on a connection of its own: at start
 * (to bind every broker's listener before clients ask) and when a client reaches a broker
 * listener whose upstream address this instance has not learned yet (e.g. after a restart).
 */
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultMetadataRequest, writeMetadataRequest } from '../../protocol/generated/metadata-request.js';
import { readMetadataResponse, type MetadataResponse } from '../../protocol/generated/metadata-response.js';
import { ControlChannel } from './control-channel.js';
import { ProxyError } from './errors.js';
import type { HostPort, UpstreamConnector } from './upstream.js';

/** Metadata v12: the newest version both Kafka 3.9 and 4.x brokers answer. */
const METADATA_VERSION = 12;

/** `allTopics`: list every topic too (the policy's topic-id lookups); otherwise brokers only. */
export async function fetchClusterMetadata(connector: UpstreamConnector, target: HostPort, timeoutMs: number, allTopics = false): Promise<MetadataResponse> {
  const socket = await connector.connect(target);
  const channel = new ControlChannel(socket, 'gatehouse-discovery');
  const timer = setTimeout(
    () => channel.fail(new ProxyError('GH_UPSTREAM_UNREACHABLE', `no Metadata answer from upstream within ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    const body = defaultMetadataRequest();
    body.topics = allTopics ? null : [];
    body.allowAutoTopicCreation = false;
    const r = await channel.request(ApiKey.Metadata, METADATA_VERSION, 2, (w) => writeMetadataRequest(w, METADATA_VERSION, body));
    return readMetadataResponse(r, METADATA_VERSION);
  } finally {
    clearTimeout(timer);
    channel.detach();
    socket.destroy();
  }
}
