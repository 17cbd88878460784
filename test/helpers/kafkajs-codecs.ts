/**
 * kafkajs ships only gzip. This registers snappy, lz4 and zstd in its CompressionCodecs table,
 * backed by Gatehouse's record-batch codecs, so that kafkajs clients in tests write and read them.
 */
import kafkajs from 'kafkajs';
import { codecFor } from '../../protocol/runtime/codecs/index.js';
import { Compression } from '../../protocol/runtime/record-batch.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;

export function registerKafkajsCodecs(): void {
  const table = [
    [CompressionTypes.Snappy, Compression.Snappy],
    [CompressionTypes.LZ4, Compression.Lz4],
    [CompressionTypes.ZSTD, Compression.Zstd],
  ] as const;
  for (const [type, id] of table) {
    const codec = codecFor(id);
    CompressionCodecs[type] = () => ({
      compress: (encoder: { buffer: Buffer }) => codec.compress(encoder.buffer),
      decompress: (data: Buffer) => codec.decompress(data),
    });
  }
}
