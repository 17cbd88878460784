/**
 * Passive stages for end-to-end tests: they look at traffic as the client sees it (they run
 * after the proxy's own routing stages) and never change it.
 */
import { ApiKey } from '../../protocol/generated/index.js';
import { batches, verifyCrc, type Compression } from '../../protocol/runtime/record-batch.js';
import { isRequest, isResponse, type InterceptedRequest, type InterceptedResponse, type Stage } from '../../src/stage/stage.js';

export interface SeenAddress {
  api: string;
  apiVersion: number;
  nodeId: number;
  host: string;
  port: number;
}

/**
 * Records every broker address in the Metadata, FindCoordinator and DescribeCluster responses
 * clients receive (and the controller listeners of DescribeQuorum ones), and whether any of them
 * carried one of the `forbiddenPorts` (the brokers' and controllers' real ports) anywhere in the
 * body.
 */
export class AddressRecorder implements Stage {
  readonly name = 'e2e-address-recorder';
  readonly interest = { responses: new Set<number>([ApiKey.Metadata, ApiKey.FindCoordinator, ApiKey.DescribeCluster, ApiKey.DescribeQuorum]) };
  /** Responses seen, by API name. */
  readonly responses: Record<string, number> = {};
  readonly addresses: SeenAddress[] = [];
  /** Descriptions of responses that named a forbidden port. */
  readonly leaks: string[] = [];

  constructor(private readonly forbiddenPorts: readonly number[]) {}

  onResponse(res: InterceptedResponse): void {
    const { apiVersion, apiName } = res.request.header;
    this.responses[apiName] = (this.responses[apiName] ?? 0) + 1;
    const found: Array<{ nodeId: number; host: string; port: number }> = [];
    if (isResponse(res, ApiKey.Metadata)) {
      for (const b of res.body().brokers) found.push(b);
    } else if (isResponse(res, ApiKey.FindCoordinator)) {
      const body = res.body();
      if (apiVersion < 4) {
        if (body.errorCode === 0) found.push(body);
      } else {
        for (const c of body.coordinators) if (c.errorCode === 0) found.push(c);
      }
    } else if (isResponse(res, ApiKey.DescribeCluster)) {
      for (const b of res.body().brokers) found.push({ nodeId: b.brokerId, host: b.host, port: b.port });
    } else if (isResponse(res, ApiKey.DescribeQuorum)) {
      for (const n of res.body().nodes) for (const l of n.listeners) found.push({ nodeId: n.nodeId, host: l.host, port: l.port });
    }
    for (const a of found) this.addresses.push({ api: apiName, apiVersion, nodeId: a.nodeId, host: a.host, port: a.port });
    // Belt and braces: any field anywhere in the decoded body holding a forbidden port.
    const text = JSON.stringify(res.body(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    for (const port of this.forbiddenPorts) {
      if (found.some((a) => a.port === port) || new RegExp(`[:,\\[]${port}[,}\\]]`).test(text)) {
        this.leaks.push(`${apiName} v${apiVersion}: ${text}`);
      }
    }
  }
}

/**
 * Records the compression codec of every record batch in Produce requests and Fetch responses,
 * and checks each batch's CRC32C on the way (proof the bytes crossed the proxy intact).
 */
export class CompressionRecorder implements Stage {
  readonly name = 'e2e-compression-recorder';
  readonly interest = { requests: new Set<number>([ApiKey.Produce]), responses: new Set<number>([ApiKey.Fetch]) };
  /** Batches seen, by codec, in what producers sent. */
  readonly produced = new Map<Compression, number>();
  /** Batches seen, by codec, in what consumers received. */
  readonly fetched = new Map<Compression, number>();
  crcErrors = 0;

  private count(into: Map<Compression, number>, records: Buffer | null): void {
    if (!records) return;
    for (const b of batches(records)) {
      try {
        verifyCrc(b);
      } catch {
        this.crcErrors++;
      }
      into.set(b.compression, (into.get(b.compression) ?? 0) + 1);
    }
  }

  onRequest(req: InterceptedRequest): void {
    if (!isRequest(req, ApiKey.Produce)) return;
    for (const t of req.body().topicData) for (const p of t.partitionData) this.count(this.produced, p.records);
  }

  onResponse(res: InterceptedResponse): void {
    if (!isResponse(res, ApiKey.Fetch)) return;
    for (const t of res.body().responses) for (const p of t.partitions) this.count(this.fetched, p.records);
  }
}
