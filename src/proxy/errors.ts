/** Why the proxy closed a connection; stable codes for logs, metrics and tests. */
export type CloseCode =
  | 'GH_FRAME_TOO_LARGE'
  | 'GH_FRAME_INVALID'
  | 'GH_UNKNOWN_API'
  | 'GH_UNSUPPORTED_VERSION'
  | 'GH_IDLE_TIMEOUT'
  | 'GH_LOGIN_TIMEOUT'
  | 'GH_TOO_MANY_CONNECTIONS'
  | 'GH_UPSTREAM_UNREACHABLE'
  | 'GH_UPSTREAM_AUTH'
  | 'GH_UPSTREAM_CLOSED'
  | 'GH_UPSTREAM_PROTOCOL'
  | 'GH_STAGE_FAILED'
  | 'GH_STAGE_CLOSED'
  | 'GH_INTERNAL_ERROR'
  | 'GH_SHUTDOWN'
  | 'GH_CLIENT_CLOSED';

export class ProxyError extends Error {
  readonly code: CloseCode;
  constructor(code: CloseCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProxyError';
    this.code = code;
  }
}
