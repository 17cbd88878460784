import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { ZodIssue } from 'zod';
import { configSchema, type GatehouseConfig, type GatehouseConfigInput } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'GH_CONFIG_INVALID';
  readonly issues: string[];
  constructor(source: string, issues: string[]) {
    super(`invalid configuration in ${source}:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

function describe(issue: ZodIssue): string {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    return `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `${key}: ${issue.message}`;
}

/** Replaces ${NAME} and ${NAME:-default} in string values with environment variables. */
function expandEnv(value: unknown, env: NodeJS.ProcessEnv, missing: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, def: string | undefined) => {
      const v = env[name];
      if (v !== undefined) return v;
      if (def !== undefined) return def;
      missing.push(name);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env, missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, missing)]));
  }
  return value;
}

export function parseConfig(input: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): GatehouseConfig {
  const missing: string[] = [];
  const expanded = expandEnv(input ?? {}, env, missing);
  if (missing.length) throw new ConfigError(source, missing.map((n) => `environment variable ${n} is not set`));
  const result = configSchema.safeParse(expanded);
  if (!result.success) throw new ConfigError(source, result.error.issues.map(describe));
  return result.data;
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): GatehouseConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(path, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  return parseConfig(doc, path, env);
}

export type { GatehouseConfig, GatehouseConfigInput };
