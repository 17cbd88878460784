import { describe, expect, it } from 'vitest';
import { allApis, ApiKey } from '../../../protocol/generated/index.js';
import { ErrorCode } from '../model.js';
import { defaultRequest, defaultResponse } from './defaults.js';
import { API_RULES, genericDenial, ruleFor } from './index.js';
import { responseRoundTrip, run, versions } from './test-kit.js';

describe('the rules table', () => {
  it('has a rule for every API the proxy has codecs for, and nothing else', () => {
    const keys = allApis().map((c) => c.apiKey);
    expect(keys.length).toBe(71);
    for (const k of keys) expect(ruleFor(k)?.apiKey, `rule for ${k}`).toBe(k);
    expect([...API_RULES.keys()].sort((a, b) => a - b)).toEqual(keys);
    expect(ruleFor(1000)).toBeUndefined();
  });

  it('genericDenial answers every API at every version with its top-level errorCode set', () => {
    for (const c of allApis()) {
      expect(defaultResponse(c.apiKey), c.name).toBeDefined();
      expect(defaultRequest(c.apiKey), c.name).toBeDefined();
      for (const v of versions(c.apiKey)) {
        const body = genericDenial(c.apiKey, v, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
        const back = responseRoundTrip(c.apiKey, v, body);
        if ('errorCode' in body) expect(body.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
        void back;
      }
    }
  });

  it.each([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate, ApiKey.GetTelemetrySubscriptions, ApiKey.PushTelemetry])(
    'API %i is allowed for any authenticated client, asking nothing',
    (apiKey) => {
      for (const v of versions(apiKey)) {
        const r = run(apiKey, v, {}, { decide: () => false });
        expect(r.outcome.kind).toBe('allow');
        expect(r.asked).toEqual([]);
      }
    },
  );
});
