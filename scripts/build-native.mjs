#!/usr/bin/env node
// Builds the optional zero-copy relay (native/splice.c) into build/gatehouse_splice.node with the
// system C compiler and the running Node's headers. Run by `npm ci`/`npm install` (postinstall)
// and by `npm run build:native`. It never fails the install: without Linux, a compiler or the
// headers it says in one line why, and Gatehouse relays responses through the process instead.
// --strict makes a failure an error (CI, where the relay is expected).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'splice.c');
const out = join(root, 'build', 'gatehouse_splice.node');
const strict = process.argv.includes('--strict');

function skip(why) {
  console.error(`gatehouse: zero-copy relay not built: ${why} (responses will be relayed through the process)`);
  process.exit(strict ? 1 : 0);
}

if (process.platform !== 'linux') skip(`not Linux (${process.platform})`);
if (!existsSync(source)) skip('native/splice.c is not in this package');

// Node's headers: beside the binary (official builds, Docker images), or the distribution's.
const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const headers = candidates.find((d) => existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'uv.h')));
if (!headers) skip(`no Node headers (node_api.h and uv.h) in ${candidates.join(', ')}`);

const cc = process.env.CC || 'cc';
if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) skip(`no C compiler (${cc}); on Debian: apt-get install gcc libc6-dev`);

if (existsSync(out) && statSync(out).mtimeMs > statSync(source).mtimeMs && !process.argv.includes('--force')) process.exit(0);
mkdirSync(dirname(out), { recursive: true });
const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-fPIC', '-shared', `-I${headers}`, '-o', out, source], { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) skip(`${cc} failed (exit ${r.status})`);
console.error(`gatehouse: zero-copy relay built (${out})`);
