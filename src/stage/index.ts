/**
 * The stage API: what the proxy core hands to identity, policy, audit, masking and
 * observability, and all they may know of it. The core runs stages; stages import this module,
 * never the core.
 */
export type { ConnectionInfo, ConnectionLimits, TlsInfo } from './connection-info.js';
export type { Component } from './component.js';
export {
  isRequest,
  isResponse,
  takesView,
  wantsRequest,
  wantsResponse,
  type Interest,
  type Located,
  type InterceptedRequest,
  type InterceptedResponse,
  type RequestDecision,
  type RequestHeaderInfo,
  type ResponseRecordsView,
  type ResponseHook,
  type Stage,
} from './stage.js';
