import { TokenRejected } from '../../src/identity/token-result.js';

/** What a token check concluded: "accepted", or the rejection's message. */
export async function rejectionReason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TokenRejected) return err.message;
    throw err;
  }
  return 'accepted';
}
