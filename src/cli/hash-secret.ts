/**
 * `gatehouse hash-secret`: reads a service account's secret from standard input (one line typed
 * at a terminal, or everything piped in, without its final newline) and prints the
 * `scrypt$N$r$p$salt$hash` string for `identity.serviceAccounts[].secretHash`.
 */
import { createInterface } from 'node:readline';
import { hashSecret } from '../identity/service-accounts.js';

async function readSecret(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('secret (input hidden): ');
    const rl = createInterface({ input: process.stdin, terminal: true });
    // Hide what is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
    const line = await new Promise<string>((resolve) => rl.once('line', resolve));
    rl.close();
    process.stderr.write('\n');
    return line;
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function hashSecretCommand(): Promise<void> {
  const secret = await readSecret();
  if (!secret) throw new Error('hash-secret: the secret is empty (give it on standard input)');
  process.stdout.write(`${await hashSecret(secret)}\n`);
}
