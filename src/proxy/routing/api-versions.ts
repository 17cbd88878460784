/**
 * Caps the broker's ApiVersions answer to what the proxy can decode: APIs it has no codec for
 * are removed, and each range is narrowed to the versions the proxy supports, so clients never
 * pick a version the proxy would have to refuse.
 *
 * Fetch is also capped at v15. Fetch v16+ responses may carry KIP-951 leader hints (broker
 * addresses after all the records) that must be rewritten, which is only known once the whole
 * response is in; below v16 a Fetch response needs nothing from the proxy and is cut through to
 * the consumer as it arrives. v16 adds only those hints for consumers (v17 and v18 add fields for
 * follower replicas), so a consumer loses nothing but the hint: after NOT_LEADER_OR_FOLLOWER it
 * refreshes its metadata instead. A client that sends v16+ anyway still has its hints rewritten.
 */
import { apiCodec, ApiKey } from '../../../protocol/generated/index.js';
import type { ApiVersionsResponse } from '../../../protocol/generated/api-versions-response.js';
import { isResponse, type InterceptedResponse, type Stage } from '../../stage/stage.js';

/** Versions offered to clients below what the proxy decodes, and why (see above). */
export const OFFERED_MAX_VERSION: Readonly<Record<number, number>> = {
  [ApiKey.Fetch]: 15,
};

export class ApiVersionsStage implements Stage {
  readonly name = 'api-versions';
  readonly interest = { responses: new Set<number>([ApiKey.ApiVersions]) };

  onResponse(res: InterceptedResponse): void {
    if (!isResponse(res, ApiKey.ApiVersions)) return;
    const body = res.body();
    const capped: ApiVersionsResponse['apiKeys'] = [];
    for (const k of body.apiKeys) {
      const codec = apiCodec(k.apiKey);
      if (!codec) continue;
      const min = Math.max(k.minVersion, codec.minVersion);
      let max = Math.min(k.maxVersion, codec.maxVersion);
      if (min > max) continue;
      const offered = OFFERED_MAX_VERSION[k.apiKey];
      if (offered !== undefined && offered >= min) max = Math.min(max, offered); // never drop the API
      capped.push({ ...k, minVersion: min, maxVersion: max });
    }
    body.apiKeys = capped;
    res.setBody(body);
  }
}
