/**
 * The API table against what else knows the APIs: the generated codecs (one row per API, the
 * same names), the policy's per-API rules (one per row; on every captured client request, the
 * resources the table reads are the ones the rule asks about, and the table's operation is among
 * those it asks on the table's resource type), and the audit trail's categories.
 */
import { describe, expect, it } from 'vitest';
import { allApis, apiCodec } from '../../protocol/generated/index.js';
import { Reader } from '../../protocol/runtime/index.js';
import { loadFrame, loadIndex, requestHeaderVersion } from '../../test/protocol/fixtures.js';
import { readRequestHeader } from '../../protocol/generated/index.js';
import { API_RULES } from '../policy/apis/index.js';
import { allowAll, fakeContext } from '../policy/apis/test-kit.js';
import { isMutation } from '../audit/events.js';
import { refusedWhenFailClosed } from '../audit/recorder.js';
import { API_TABLE, apiFacts } from './table.js';
import { resourcesOf } from './resources.js';

describe('the API table', () => {
  it('has one row per API the codecs know, under the codec\'s name', () => {
    expect([...API_TABLE.keys()].sort((a, b) => a - b)).toEqual(allApis().map((c) => c.apiKey));
    for (const c of allApis()) expect(apiFacts(c.apiKey)!.name).toBe(c.name);
  });

  it('the policy has a rule for every row, and none besides', () => {
    expect([...API_RULES.keys()].sort((a, b) => a - b)).toEqual([...API_TABLE.keys()].sort((a, b) => a - b));
  });

  it('only APIs that carry records say so: Produce requests, Fetch and ShareFetch responses', () => {
    const carriers = [...API_TABLE.values()].filter((f) => f.records).map((f) => `${f.name}:${f.records}`);
    expect(carriers.sort()).toEqual(['Fetch:response', 'Produce:request', 'ShareFetch:response']);
  });

  it('the audit trail takes its categories from it (a mutation is refused by fail-closed audit, as is a data read)', () => {
    for (const f of API_TABLE.values()) {
      expect(isMutation(f.name), f.name).toBe(f.mutates);
      expect(refusedWhenFailClosed(f.name), f.name).toBe(f.mutates || f.readsData);
    }
    // The raft voter changes were missing from the audit's own list before there was one table.
    expect(isMutation('AddRaftVoter')).toBe(true);
    expect(isMutation('RemoveRaftVoter')).toBe(true);
  });

  describe('on captured client requests, agrees with the policy rule', () => {
    const captured = (loadIndex()?.frames ?? []).filter((f) => f.direction === 'request');
    for (const entry of captured) {
      const facts = apiFacts(entry.apiKey)!;
      it(`${entry.apiName} v${entry.apiVersion} (${entry.client})`, () => {
        const codec = apiCodec(entry.apiKey)!;
        const r = new Reader(loadFrame(entry));
        readRequestHeader(r, requestHeaderVersion(codec, entry.apiVersion));
        const body = codec.readRequest(r, entry.apiVersion);
        // Asked with everything allowed, and again with the cluster denied (a cluster-wide
        // permission such as Create covers every topic, so the rule asks per topic only without it).
        const all = fakeContext(entry.apiVersion, allowAll);
        API_RULES.get(entry.apiKey)!.authorize(body, all);
        const noCluster = fakeContext(entry.apiVersion, (a) => a.resourceType !== 'cluster');
        API_RULES.get(entry.apiKey)!.authorize(body, noCluster);
        const asked = [...all.asked, ...noCluster.asked].map((a) => {
          const [operation, resource] = [a.slice(0, a.indexOf(' ')), a.slice(a.indexOf(' ') + 1)];
          return { operation, type: resource.slice(0, resource.indexOf(':')), name: resource.slice(resource.indexOf(':') + 1) };
        });
        const askedNames = new Set(asked.map((a) => `${a.type}:${a.name}`));
        const read = resourcesOf(entry.apiKey, body).filter((x) => ['topic', 'group', 'transactionalId'].includes(x.type));
        // APIs authorized on the cluster alone (ElectLeaders, reassignments) name topics Kafka does not check.
        if (facts.on !== 'cluster') for (const x of read) expect(askedNames, `${x.type}:${x.name}`).toContain(`${x.type}:${x.name}`);
        // And the other way: whatever named resource the rule asks about, the table reads.
        const readNames = new Set(read.map((x) => `${x.type}:${x.name}`));
        for (const a of asked) if (['topic', 'group', 'transactionalId'].includes(a.type) && a.name !== '*') expect(readNames, `${a.type}:${a.name}`).toContain(`${a.type}:${a.name}`);
        const onMain = asked.filter((a) => a.type === facts.on);
        if (facts.operation && onMain.length > 0) expect(onMain.map((a) => a.operation)).toContain(facts.operation);
      });
    }
  });
});
