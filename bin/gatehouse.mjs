#!/usr/bin/env node
// The gatehouse command. In a checkout it runs the TypeScript sources through tsx; an installed
// package runs the compiled JavaScript in dist/.
import { existsSync } from 'node:fs';

const src = new URL('../src/cli/main.ts', import.meta.url);
const dist = new URL('../dist/src/cli/main.js', import.meta.url);
let mod;
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(src.href);
} else {
  mod = await import(dist.href);
}
await mod.main(process.argv.slice(2));
