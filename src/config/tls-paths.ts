/**
 * TLS file paths in the config (`listen.tls`, `upstream.tls`) are relative to the config file's
 * folder, like the policy file's; without a config file, to the working directory.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { GatehouseConfig } from './schema.js';

const FILE_KEYS = ['certFile', 'keyFile', 'caFile'] as const;

function resolveFiles<T extends Partial<Record<(typeof FILE_KEYS)[number], string>>>(section: T, base: string): T {
  const out = { ...section };
  for (const k of FILE_KEYS) {
    const p = out[k];
    if (p !== undefined && !isAbsolute(p)) (out as Record<string, string>)[k] = resolve(base, p);
  }
  return out;
}

/** The config with every TLS file path made absolute. */
export function withResolvedTlsPaths(config: GatehouseConfig, configPath: string | undefined): GatehouseConfig {
  const { tls: listenTls } = config.listen;
  const { tls: upstreamTls } = config.upstream;
  if (!listenTls && !upstreamTls) return config;
  const base = configPath ? dirname(resolve(configPath)) : process.cwd();
  return {
    ...config,
    listen: { ...config.listen, ...(listenTls ? { tls: resolveFiles(listenTls, base) } : {}) },
    upstream: { ...config.upstream, ...(upstreamTls ? { tls: resolveFiles(upstreamTls, base) } : {}) },
  };
}
