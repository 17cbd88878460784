/**
 * The Kafka error a kafkajs call failed with, as Kafka names it (TOPIC_AUTHORIZATION_FAILED...).
 * kafkajs's non-retriable wrapper keeps only the message, so it is mapped back through kafkajs's
 * own table of error codes.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { errorCodes } = require('kafkajs/src/protocol/error.js') as { errorCodes: Array<{ type: string; code: number; message: string }> };

export function kafkaErrorType(err: unknown): string {
  const e = err as { type?: string; errors?: unknown[]; cause?: unknown; name?: string; message?: string };
  if (e.type) return e.type;
  const byMessage = errorCodes.find((c) => c.message === e.message);
  if (byMessage) return byMessage.type;
  if (e.cause) return kafkaErrorType(e.cause);
  const inner = e.errors?.map(kafkaErrorType).find((t) => /^[A-Z_]+$/.test(t));
  return inner ?? `${e.name}: ${e.message}`;
}

/** undefined when the call succeeds, else the Kafka error type. */
export async function errorOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return kafkaErrorType(err);
  }
}
