/**
 * Reading a policy: from its own YAML file (top-level `roles`) or from the `policy.roles`
 * section of the config file, with errors that name the file, line and key.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { describeIssue, readYamlFile } from '../config/load.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { YamlSource } from '../config/yaml-source.js';
import { policySchema, type PolicyDocument } from './schema.js';

export class PolicyError extends Error {
  readonly code = 'GH_POLICY_INVALID';
  constructor(
    readonly source: string,
    readonly issues: string[],
  ) {
    super(`invalid policy in ${source}:\n  ${issues.join('\n  ')}`);
    this.name = 'PolicyError';
  }
}

/** Validates a policy document; `pathPrefix` is where it sits in the YAML (["policy"] inline). */
export function parsePolicy(value: unknown, source = 'policy', yaml?: YamlSource, pathPrefix: string[] = []): PolicyDocument {
  const result = policySchema.safeParse(value ?? {});
  if (!result.success) throw new PolicyError(source, result.error.issues.map((i) => describeIssue(i, yaml, pathPrefix)));
  return result.data;
}

/** Where a config's policy comes from. */
export interface PolicyLocation {
  /** The file to read (and watch). */
  readonly path: string;
  /** Inline in the config file (under `policy`) rather than a policy file of its own. */
  readonly inline: boolean;
}

export function policyLocation(config: GatehouseConfig, configPath: string | undefined): PolicyLocation | undefined {
  const p = config.policy;
  if (!p) return undefined;
  if (p.file) {
    const base = configPath ? dirname(configPath) : process.cwd();
    return { path: isAbsolute(p.file) ? p.file : resolve(base, p.file), inline: false };
  }
  if (!configPath) throw new PolicyError('config', ['policy.roles inline needs the config to come from a file']);
  return { path: configPath, inline: true };
}

export function readPolicyFile(loc: PolicyLocation): PolicyDocument {
  const yaml = readYamlFile(loc.path, PolicyError);
  if (loc.inline) {
    const policy = (yaml.value as { policy?: { roles?: unknown } } | null)?.policy;
    return parsePolicy({ roles: policy?.roles }, loc.path, yaml, ['policy']);
  }
  return parsePolicy(yaml.value, loc.path, yaml);
}
