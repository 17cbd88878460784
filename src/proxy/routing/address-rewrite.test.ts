/**
 * KIP-951 leader hints: the broker addresses a Produce (v10+) or Fetch (v16+) response may carry
 * after its records are replaced by the proxy's. Fetch below v16 carries none, so the stage does
 * not ask for it and such responses are cut through (and Fetch is offered up to v15 only).
 */
import { describe, expect, it } from 'vitest';
import { apiCodec, ApiKey, writeRequestHeader } from '../../../protocol/generated/index.js';
import { defaultFetchRequest, writeFetchRequest } from '../../../protocol/generated/fetch-request.js';
import { defaultFetchResponse, type FetchResponse } from '../../../protocol/generated/fetch-response.js';
import { defaultProduceRequest, writeProduceRequest } from '../../../protocol/generated/produce-request.js';
import { defaultProduceResponse, type ProduceResponse } from '../../../protocol/generated/produce-response.js';
import { Writer } from '../../../protocol/runtime/index.js';
import { BrokerMap } from '../broker-map.js';
import type { ConnectionInfo } from '../../stage/connection-info.js';
import { Exchange, ResponseView } from '../exchange.js';
import { joinFrame } from '../frame-reader.js';
import { wantsResponse } from '../../stage/stage.js';
import { AddressRewriteStage, type ProxyAddressBook } from './address-rewrite.js';
import { OFFERED_MAX_VERSION } from './api-versions.js';

const conn: ConnectionInfo = { id: 'c1', remoteAddress: '127.0.0.1', remotePort: 1, listener: 'bootstrap', nodeId: -1, openedAt: 0, attributes: new Map() };

function book(): ProxyAddressBook & { brokers: BrokerMap } {
  const brokers = new BrokerMap();
  return {
    brokers,
    addressFor: async (nodeId) => ({ host: 'proxy.example', port: 9100 + nodeId }),
    bootstrap: () => ({ host: 'proxy.example', port: 9092 }),
  };
}

function request(apiKey: number, version: number, body: (w: Writer) => void): Exchange {
  const codec = apiCodec(apiKey)!;
  const w = new Writer(128);
  w.int32(0);
  writeRequestHeader(w, version >= codec.requestFlexibleFrom ? 2 : 1, { requestApiKey: apiKey, requestApiVersion: version, correlationId: 5, clientId: 't' });
  body(w);
  const wire = Buffer.from(w.finish());
  wire.writeInt32BE(wire.length - 4, 0);
  return new Exchange(conn, codec, wire);
}

const hint = { nodeId: 2, host: 'broker-2.internal', port: 9092, rack: null };

describe('address-rewrite: KIP-951 leader hints', () => {
  const stage = new AddressRewriteStage(book());

  it('rewrites the hints of a Produce response', async () => {
    const ex = request(ApiKey.Produce, 11, (w) => writeProduceRequest(w, 11, { ...defaultProduceRequest(), acks: -1 }));
    const body: ProduceResponse = { ...defaultProduceResponse(), nodeEndpoints: [{ ...hint }] };
    const res = new ResponseView(ex, ex.syntheticWire(body), false);
    expect(wantsResponse(stage, ApiKey.Produce, 11)).toBe(true);
    await stage.onResponse(res);
    expect(res.modified).toBe(true);
    const out = new ResponseView(ex, joinFrame(res.clientWire()), false).body<ProduceResponse>();
    expect(out.nodeEndpoints).toEqual([{ nodeId: 2, host: 'proxy.example', port: 9102, rack: null }]);
  });

  it('leaves a Produce response without hints as it came', async () => {
    const ex = request(ApiKey.Produce, 11, (w) => writeProduceRequest(w, 11, { ...defaultProduceRequest(), acks: -1 }));
    const wire = ex.syntheticWire(defaultProduceResponse());
    const res = new ResponseView(ex, wire, false);
    await stage.onResponse(res);
    expect(res.modified).toBe(false);
    expect(res.clientWire()).toBe(wire);
  });

  it('does not ask for Fetch responses below v16, and Fetch is offered up to v15', () => {
    for (let v = 4; v <= 15; v++) expect(wantsResponse(stage, ApiKey.Fetch, v), `v${v}`).toBe(false);
    expect(OFFERED_MAX_VERSION[ApiKey.Fetch]).toBe(15);
  });

  it('still rewrites the hints of a Fetch v16 response from a client that sends v16 anyway, skimming chunked frames', async () => {
    expect(wantsResponse(stage, ApiKey.Fetch, 16)).toBe(true);
    const ex = request(ApiKey.Fetch, 16, (w) => writeFetchRequest(w, 16, { ...defaultFetchRequest(), replicaId: -1 }));
    const body: FetchResponse = { ...defaultFetchResponse(), nodeEndpoints: [{ ...hint }] };
    const whole = ex.syntheticWire(body);
    const res = new ResponseView(ex, [whole.subarray(0, 7), whole.subarray(7)], false);
    await stage.onResponse(res);
    const out = new ResponseView(ex, joinFrame(res.clientWire()), false).body<FetchResponse>();
    expect(out.nodeEndpoints).toEqual([{ nodeId: 2, host: 'proxy.example', port: 9102, rack: null }]);
  });
});
