/**
 * Caps the broker's ApiVersions answer to what the proxy can decode: APIs it has no codec for
 * are removed, and each range is narrowed to the versions the proxy supports, so clients never
 * pick a version the proxy would have to refuse.
 */
import { apiCodec, ApiKey } from '../../../protocol/generated/index.js';
import type { ApiVersionsResponse } from '../../../protocol/generated/api-versions-response.js';
import type { InterceptedResponse, Stage } from '../stage.js';

export class ApiVersionsStage implements Stage {
  readonly name = 'api-versions';
  readonly interest = { responses: new Set<number>([ApiKey.ApiVersions]) };

  onResponse(res: InterceptedResponse): void {
    const body = res.body<ApiVersionsResponse>();
    const capped: ApiVersionsResponse['apiKeys'] = [];
    for (const k of body.apiKeys) {
      const codec = apiCodec(k.apiKey);
      if (!codec) continue;
      const min = Math.max(k.minVersion, codec.minVersion);
      const max = Math.min(k.maxVersion, codec.maxVersion);
      if (min > max) continue;
      capped.push({ ...k, minVersion: min, maxVersion: max });
    }
    body.apiKeys = capped;
    res.setBody(body);
  }
}
