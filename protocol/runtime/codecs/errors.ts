/**
 * Errors of the record-batch codecs, matched on `code` like ProtocolError.
 */
export type CodecErrorCode =
  | 'GH_CODEC_UNAVAILABLE' // the codec's npm package could not be loaded
  | 'GH_CODEC_UNKNOWN' // a batch names a compression id no Kafka version defines
  | 'GH_CODEC_CORRUPT'; // compressed data the codec could not decompress

export class CodecError extends Error {
  readonly code: CodecErrorCode;
  constructor(code: CodecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CodecError';
    this.code = code;
  }
}
