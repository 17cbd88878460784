/**
 * Per-partition, header-level views of the records a message carries (Produce requests, Fetch and
 * ShareFetch responses): which partition, the batch headers read in place, and for Fetch the
 * partition's error code and offsets. Built from a located body (InterceptedRequest.locate()),
 * so no record is joined or copied; the bytes of one partition are there when a stage needs them.
 */
import type { PartitionRecords } from '../../protocol/runtime/records-view.js';
import type { Located } from '../stage/stage.js';
import { apiFacts } from './table.js';

export type { PartitionRecords };

type Obj = Record<string, unknown>;

/** The partitions of a record-carrying message, in the message's order, with their batch headers. */
export function partitionRecords(apiKey: number, located: Located<unknown>): PartitionRecords[] {
  const at = apiFacts(apiKey)?.recordsAt;
  if (!at) throw new Error(`API key ${apiKey} carries no records`);
  const out: PartitionRecords[] = [];
  let next = 0;
  for (const t of ((located.body as Obj)[at.topics] as Obj[] | null) ?? []) {
    for (const p of (t[at.partitions] as Obj[] | null) ?? []) {
      const field = p.records === null || p.records === undefined ? null : located.fields[next++] ?? null;
      const headers = field ? located.headers(field) : { batches: [], truncatedBytes: 0 };
      const entry: PartitionRecords = {
        topic: at.name ? ((t[at.name] as string | null) ?? '') : '',
        topicId: (t[at.id] as string | undefined) ?? '',
        partition: p[at.index] as number,
        errorCode: (p.errorCode as number | undefined) ?? 0,
        field,
        ...headers,
      };
      if (typeof p.highWatermark === 'bigint') entry.highWatermark = p.highWatermark;
      if (typeof p.lastStableOffset === 'bigint') entry.lastStableOffset = p.lastStableOffset;
      if (typeof p.logStartOffset === 'bigint') entry.logStartOffset = p.logStartOffset;
      out.push(entry);
    }
  }
  return out;
}
