/**
 * The one error type the protocol layer throws. Callers (the proxy core, tests) match on `code`,
 * never on the message text.
 */
export type ProtocolErrorCode =
  | 'GH_PROTOCOL_TRUNCATED' // the frame ends before a field does
  | 'GH_PROTOCOL_INVALID' // a length, count or value no valid encoder produces
  | 'GH_PROTOCOL_UNSUPPORTED' // an API key or version the proxy has no codec for
  | 'GH_PROTOCOL_CRC' // a record batch whose CRC32C does not match its bytes
  | 'GH_PROTOCOL_TRAILING'; // bytes left over after a complete message

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

export function isProtocolError(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError;
}
