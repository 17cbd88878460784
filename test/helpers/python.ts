/**
 * The Python environment for client tests: scripts/python-env.sh creates (once, cached under
 * ~/.cache/gatehouse/python) a venv with confluent-kafka from PyPI and prints its path.
 */
import { fileURLToPath } from 'node:url';
import { run } from './e2e.js';

const script = fileURLToPath(new URL('../../scripts/python-env.sh', import.meta.url));

/** The venv's python executable; throws with the script's reason when it cannot be made. */
export async function pythonWithConfluentKafka(): Promise<string> {
  const res = await run('bash', [script], { timeoutMs: 300_000 });
  if (res.code !== 0) throw new Error(`scripts/python-env.sh failed (${res.code}): ${res.stderr.trim()}`);
  return `${res.stdout.trim()}/bin/python`;
}
