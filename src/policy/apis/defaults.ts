/**
 * Default request and response bodies by API key, from the generated codecs: the start of every
 * answer the proxy builds itself (and of the requests tests build).
 */
import { apiCodec } from '../../../protocol/generated/index.js';

/** A fresh default request body for an API key (tests build requests from it). */
export function defaultRequest(apiKey: number): Record<string, unknown> {
  const codec = apiCodec(apiKey);
  if (!codec) throw new Error(`no codec for API key ${apiKey}`);
  return codec.defaultRequest() as Record<string, unknown>;
}

/** A fresh default response body for an API key (undefined for a key the proxy has no codec for). */
export function defaultResponse(apiKey: number): Record<string, unknown> | undefined {
  return apiCodec(apiKey)?.defaultResponse() as Record<string, unknown> | undefined;
}
