/**
 * The proxy's own Metadata request to the upstream cluster, on a connection of its own: at start
 * (to bind every broker's listener before clients ask) and when a client reaches a broker
 * listener whose upstream address this instance has not learned yet (e.g. after a restart).
 */
import { Reader, Writer } from '../../protocol/runtime/index.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { writeRequestHeader, readResponseHeader } from '../../protocol/generated/index.js';
import { defaultMetadataRequest, writeMetadataRequest } from '../../protocol/generated/metadata-request.js';
import { readMetadataResponse, type MetadataResponse } from '../../protocol/generated/metadata-response.js';
import { FrameReader, joinFrame } from './frame-reader.js';
import { ProxyError } from './errors.js';
import type { HostPort, UpstreamConnector } from './upstream.js';

/** Metadata v12: the newest version both Kafka 3.9 and 4.x brokers answer. */
const METADATA_VERSION = 12;

export async function fetchClusterMetadata(connector: UpstreamConnector, target: HostPort, timeoutMs: number): Promise<MetadataResponse> {
  const socket = await connector.connect(target);
  try {
    const w = new Writer(64);
    w.int32(0);
    writeRequestHeader(w, 2, { requestApiKey: ApiKey.Metadata, requestApiVersion: METADATA_VERSION, correlationId: 1, clientId: 'gatehouse-discovery' });
    const body = defaultMetadataRequest();
    body.topics = [];
    body.allowAutoTopicCreation = false;
    writeMetadataRequest(w, METADATA_VERSION, body);
    const frame = w.finish();
    frame.writeInt32BE(frame.length - 4, 0);
    socket.write(frame);
    const frames = new FrameReader(100 * 1024 * 1024, 'discovery response');
    const wire = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ProxyError('GH_UPSTREAM_UNREACHABLE', `no Metadata answer from upstream within ${timeoutMs} ms`)), timeoutMs);
      socket.on('data', (chunk: Buffer) => {
        try {
          const got = frames.push(chunk);
          if (got.length) {
            clearTimeout(timer);
            resolve(joinFrame(got[0]!));
          }
        } catch (err) {
          clearTimeout(timer);
          reject(err);
        }
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(new ProxyError('GH_UPSTREAM_UNREACHABLE', `discovery: ${err.message}`));
      });
      socket.on('close', () => {
        clearTimeout(timer);
        reject(new ProxyError('GH_UPSTREAM_CLOSED', 'discovery: upstream closed the connection'));
      });
    });
    const r = new Reader(wire, 4);
    readResponseHeader(r, 1);
    return readMetadataResponse(r, METADATA_VERSION);
  } finally {
    socket.destroy();
  }
}
