import { readFileSync } from 'node:fs';
import type { ZodIssue } from 'zod';
import { parseYamlSource, YamlSyntaxError, type YamlSource } from './yaml-source.js';
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

/** One zod issue as a line of text; with a YAML source, prefixed by the line it points at ("line 12: "). */
export function describeIssue(issue: ZodIssue, yaml?: YamlSource, pathPrefix: ReadonlyArray<string | number> = []): string {
  const path = [...pathPrefix, ...issue.path];
  const key = path.length ? path.join('.') : '(top level)';
  let text: string;
  if (issue.code === 'unrecognized_keys') {
    const where = path.length ? `${path.join('.')}: ` : '';
    text = `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  } else {
    text = `${key}: ${issue.message}`;
  }
  const line = yaml?.lineOf(path, issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined);
  return line !== undefined ? `line ${line}: ${text}` : text;
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

export function parseConfig(input: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env, yaml?: YamlSource): GatehouseConfig {
  const missing: string[] = [];
  const expanded = expandEnv(input ?? {}, env, missing);
  if (missing.length) throw new ConfigError(source, missing.map((n) => `environment variable ${n} is not set`));
  const result = configSchema.safeParse(expanded);
  if (!result.success) throw new ConfigError(source, result.error.issues.map((i) => describeIssue(i, yaml)));
  return result.data;
}

/** Reads and parses a YAML file, with errors that name the file and line. */
export function readYamlFile(path: string, ErrorType: new (source: string, issues: string[]) => Error = ConfigError): YamlSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ErrorType(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  try {
    return parseYamlSource(text);
  } catch (err) {
    const line = err instanceof YamlSyntaxError && err.line !== undefined ? `line ${err.line}: ` : '';
    throw new ErrorType(path, [`${line}not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): GatehouseConfig {
  const yaml = readYamlFile(path);
  return parseConfig(yaml.value, path, env, yaml);
}

export type { GatehouseConfig, GatehouseConfigInput };
