/**
 * The proxy's own requests to the upstream cluster, each on a connection of its own: Metadata at
 * start (to bind every broker's listener before clients ask) and when a client reaches a broker
 * listener whose upstream address this instance has not learned yet (e.g. after a restart); and a
 * broker's ApiVersions answers, remembered for connections whose broker connection waits for the
 * client's login (routing/remembered-api-versions.ts). At start both go on the one connection.
 */
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultMetadataRequest, writeMetadataRequest } from '../../protocol/generated/metadata-request.js';
import { readMetadataResponse, type MetadataResponse } from '../../protocol/generated/metadata-response.js';
import { ControlChannel } from './control-channel.js';
import { ProxyError } from './errors.js';
import { askApiVersions, type ApiVersionsAnswers } from './routing/remembered-api-versions.js';
import type { HostPort, UpstreamConnector } from './upstream.js';

/** Metadata v12: the newest version both Kafka 3.9 and 4.x brokers answer. */
const METADATA_VERSION = 12;

/** Opens a connection of the proxy's own, runs `use` on it within `timeoutMs`, and closes it. */
async function onOwnConnection<T>(connector: UpstreamConnector, target: HostPort, timeoutMs: number, what: string, use: (channel: ControlChannel) => Promise<T>): Promise<T> {
  const socket = await connector.connect(target);
  const channel = new ControlChannel(socket, 'gatehouse-discovery');
  const timer = setTimeout(() => channel.fail(new ProxyError('GH_UPSTREAM_UNREACHABLE', `no ${what} answer from upstream within ${timeoutMs} ms`)), timeoutMs);
  try {
    return await use(channel);
  } finally {
    clearTimeout(timer);
    channel.detach();
    socket.destroy();
  }
}

async function askMetadata(channel: ControlChannel, allTopics: boolean): Promise<MetadataResponse> {
  const body = defaultMetadataRequest();
  body.topics = allTopics ? null : [];
  body.allowAutoTopicCreation = false;
  const r = await channel.request(ApiKey.Metadata, METADATA_VERSION, 2, (w) => writeMetadataRequest(w, METADATA_VERSION, body));
  return readMetadataResponse(r, METADATA_VERSION);
}

/** `allTopics`: list every topic too (the policy's topic-id lookups); otherwise brokers only. */
export function fetchClusterMetadata(connector: UpstreamConnector, target: HostPort, timeoutMs: number, allTopics = false): Promise<MetadataResponse> {
  return onOwnConnection(connector, target, timeoutMs, 'Metadata', (channel) => askMetadata(channel, allTopics));
}

/** The broker's answers to ApiVersions at every version the proxy speaks. */
export function fetchApiVersions(connector: UpstreamConnector, target: HostPort, timeoutMs: number): Promise<ApiVersionsAnswers> {
  return onOwnConnection(connector, target, timeoutMs, 'ApiVersions', askApiVersions);
}

/**
 * Start-up discovery: the brokers (Metadata), then on the same connection the broker's
 * ApiVersions answers; those are undefined if asking failed (`onApiVersionsError` says why), as
 * they can be asked for again later and the brokers are what discovery is for.
 */
export function discoverCluster(
  connector: UpstreamConnector,
  target: HostPort,
  timeoutMs: number,
  onApiVersionsError: (err: unknown) => void,
): Promise<{ metadata: MetadataResponse; apiVersions: ApiVersionsAnswers | undefined }> {
  return onOwnConnection(connector, target, timeoutMs, 'Metadata', async (channel) => {
    const metadata = await askMetadata(channel, false);
    const apiVersions = await askApiVersions(channel).catch((err: unknown) => {
      onApiVersionsError(err);
      return undefined;
    });
    return { metadata, apiVersions };
  });
}
