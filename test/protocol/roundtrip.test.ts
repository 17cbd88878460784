/**
 * Every frame captured from a real client (scripts/capture-fixtures.ts) decodes with the
 * generated codecs, consuming every byte, and re-encodes to exactly the bytes the client or
 * broker sent. Record batches inside Produce requests and Fetch responses pass their CRC and,
 * when uncompressed, re-encode record by record to the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { ApiKey, apiCodec } from '../../protocol/generated/index.js';
import { Compression, batches, decodeRecords, encodeRecords, verifyCrc } from '../../protocol/runtime/index.js';
import { decodeFrame, encodeFrame, loadFrame, loadIndex, recordsFields, type FixtureEntry } from './fixtures.js';

const loaded = loadIndex();
if (!loaded) throw new Error('test/fixtures/frames/index.json is missing: run `npx tsx scripts/capture-fixtures.ts`');
const index = loaded;
const frames = index.frames;

const label = (e: FixtureEntry) => `${e.file} (${e.apiName} v${e.apiVersion} ${e.direction})`;

describe('captured frames round-trip byte for byte', () => {
  it.each(frames.map((e) => [label(e), e] as const))('%s', (_name, e) => {
    const frame = loadFrame(e);
    expect(frame.length).toBe(e.bytes);
    const codec = apiCodec(e.apiKey);
    expect(codec, `codec for API key ${e.apiKey}`).toBeDefined();
    expect(codec!.name).toBe(e.apiName);
    const d = decodeFrame(frame, e.direction, e.apiKey, e.apiVersion, e.bodyVersion);
    if (e.direction === 'request') {
      const h = d.header as { requestApiKey: number; requestApiVersion: number; clientId: string | null };
      expect(h.requestApiKey).toBe(e.apiKey);
      expect(h.requestApiVersion).toBe(e.apiVersion);
      if (e.clientId !== undefined) expect(h.clientId).toBe(e.clientId);
    }
    const again = encodeFrame(d, e.direction);
    if (!again.equals(frame)) {
      // Point at the first differing byte rather than dumping two buffers.
      let at = 0;
      while (at < frame.length && at < again.length && frame[at] === again[at]) at++;
      expect.fail(`${e.file}: re-encoded ${again.length} bytes vs ${frame.length} captured; first difference at byte ${at} (body starts at ${d.bodyOffset})`);
    }
  });
});

describe('record batches in captured Produce requests, Fetch and ShareFetch responses', () => {
  const withRecords = frames.filter((e) => {
    try {
      return recordsFields(decodeFrame(loadFrame(e), e.direction, e.apiKey, e.apiVersion, e.bodyVersion).body).some((r) => r.length > 0);
    } catch {
      return false; // reported by the round-trip test above
    }
  });
  const stats = { batches: 0, uncompressed: 0, codecs: new Set<Compression>(), apis: new Set<string>() };

  it.each(withRecords.map((e) => [label(e), e] as const))('%s', (_name, e) => {
    const d = decodeFrame(loadFrame(e), e.direction, e.apiKey, e.apiVersion, e.bodyVersion);
    stats.apis.add(`${e.apiName} ${e.direction}`);
    for (const records of recordsFields(d.body)) {
      for (const b of batches(records)) {
        stats.batches++;
        stats.codecs.add(b.compression);
        expect(b.magic).toBe(2);
        verifyCrc(b);
        if (b.compression === Compression.None) {
          stats.uncompressed++;
          const decoded = decodeRecords(b.recordsData, b.recordCount);
          expect(decoded).toHaveLength(b.recordCount);
          expect(encodeRecords(decoded).equals(b.recordsData)).toBe(true);
        }
      }
    }
  });

  it('covers batches with data, uncompressed and compressed', () => {
    expect([...stats.apis].sort()).toEqual(expect.arrayContaining(['Fetch response', 'Produce request', 'ShareFetch response']));
    expect(stats.batches).toBeGreaterThan(0);
    expect(stats.uncompressed).toBeGreaterThan(0);
    expect([...stats.codecs].sort()).toEqual(
      expect.arrayContaining([Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd]),
    );
  });
});

describe('fixture coverage', () => {
  const seen = new Set(frames.map((e) => e.apiKey));
  const clients = new Set(frames.map((e) => e.client));

  it('has frames from every client', () => {
    expect([...clients].sort()).toEqual(['java', 'kafkajs', 'kcat']);
  });

  it('covers the APIs ordinary clients use', () => {
    const expected = [
      ApiKey.Produce,
      ApiKey.Fetch,
      ApiKey.ListOffsets,
      ApiKey.Metadata,
      ApiKey.OffsetCommit,
      ApiKey.OffsetFetch,
      ApiKey.FindCoordinator,
      ApiKey.JoinGroup,
      ApiKey.Heartbeat,
      ApiKey.LeaveGroup,
      ApiKey.SyncGroup,
      ApiKey.DescribeGroups,
      ApiKey.ListGroups,
      ApiKey.ApiVersions,
      ApiKey.CreateTopics,
      ApiKey.DeleteTopics,
      ApiKey.InitProducerId,
      ApiKey.AddPartitionsToTxn,
      ApiKey.AddOffsetsToTxn,
      ApiKey.EndTxn,
      ApiKey.TxnOffsetCommit,
      ApiKey.DescribeConfigs,
      ApiKey.CreatePartitions,
      ApiKey.DescribeAcls,
      ApiKey.DescribeCluster,
    ];
    const missing = expected.filter((k) => !seen.has(k)).map((k) => apiCodec(k)!.name);
    expect(missing).toEqual([]);
  });

  it('has a fixture for every (client, API, version, direction) that went through the proxy while capturing', () => {
    const have = new Set(frames.map((e) => `${e.client} ${e.apiName} v${e.apiVersion} ${e.direction}`));
    expect(index.seen.length).toBeGreaterThan(0);
    const missing = index.seen.map((s) => `${s.client} ${s.apiName} v${s.apiVersion} ${s.direction}`).filter((k) => !have.has(k));
    expect(missing).toEqual([]);
  });

  it('lists the API keys each client sent', () => {
    const byClient: Record<string, string[]> = {};
    for (const s of index.seen) {
      if (s.direction !== 'request') continue;
      const list = (byClient[s.client] ??= []);
      if (!list.includes(s.apiName)) list.push(s.apiName);
    }
    // What the capture saw, as a floor: a recapture may add APIs but should not lose these.
    expect(byClient.java).toEqual(
      expect.arrayContaining([
        'Produce', 'Fetch', 'ListOffsets', 'Metadata', 'OffsetCommit', 'OffsetFetch', 'FindCoordinator', 'JoinGroup', 'Heartbeat',
        'LeaveGroup', 'SyncGroup', 'DescribeGroups', 'ListGroups', 'ApiVersions', 'CreateTopics', 'DeleteTopics', 'DeleteRecords',
        'InitProducerId', 'EndTxn', 'TxnOffsetCommit', 'DescribeAcls', 'DescribeConfigs', 'IncrementalAlterConfigs', 'CreatePartitions',
        'DeleteGroups', 'OffsetDelete', 'DescribeLogDirs', 'DescribeCluster', 'DescribeQuorum', 'DescribeProducers',
        'DescribeTransactions', 'ListTransactions', 'ConsumerGroupHeartbeat', 'ConsumerGroupDescribe', 'DescribeTopicPartitions',
      ]),
    );
    expect(byClient.kcat).toEqual(
      expect.arrayContaining(['Produce', 'Fetch', 'ListOffsets', 'Metadata', 'OffsetCommit', 'OffsetFetch', 'FindCoordinator', 'JoinGroup', 'Heartbeat', 'LeaveGroup', 'SyncGroup', 'ApiVersions', 'InitProducerId']),
    );
    expect(byClient.kafkajs).toEqual(
      expect.arrayContaining([
        'Produce', 'Fetch', 'ListOffsets', 'Metadata', 'OffsetCommit', 'OffsetFetch', 'FindCoordinator', 'JoinGroup', 'Heartbeat',
        'LeaveGroup', 'SyncGroup', 'DescribeGroups', 'ListGroups', 'ApiVersions', 'CreateTopics', 'DeleteTopics', 'DeleteRecords',
        'InitProducerId', 'AddPartitionsToTxn', 'AddOffsetsToTxn', 'EndTxn', 'TxnOffsetCommit', 'DescribeAcls', 'CreateAcls',
        'DeleteAcls', 'DescribeConfigs', 'AlterConfigs', 'CreatePartitions', 'DeleteGroups',
      ]),
    );
  });

  it('has both directions for every API key a client sent', () => {
    for (const key of seen) {
      const dirs = new Set(frames.filter((e) => e.apiKey === key).map((e) => e.direction));
      expect([...dirs].sort(), apiCodec(key)!.name).toEqual(['request', 'response']);
    }
  });

  it('stays small', () => {
    const total = frames.reduce((n, e) => n + e.bytes, 0);
    expect(total).toBeLessThan(3 * 1024 * 1024);
  });
});
