/**
 * gatehouse — command line.
 *
 *   gatehouse run --config gatehouse.yaml      run the proxy
 *   gatehouse sandbox [--state-file FILE]      a local Kafka and OpenID provider, the proxy in front
 *   gatehouse check-config gatehouse.yaml      validate a configuration file and exit
 *   gatehouse hash-secret < secret.txt         hash a service account secret for the config
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { pipelineFromConfig } from '../pipeline.js';
import { policyLocation, PolicyError, readPolicyFile } from '../policy/load.js';
import { POLICY_HELP, policyCommand, UsageError } from './policy.js';
import { createLogger } from '../log.js';
import { withResolvedTlsPaths } from '../config/tls-paths.js';
import { ObservabilityServer } from '../observability/server.js';
import { ServerTlsMaterial } from '../proxy/tls.js';
import { TlsConnector } from '../proxy/upstream-tls.js';
import { AUDIT_HELP } from './audit.js';
import { GatehouseProxy } from '../proxy/server.js';

const HELP = `gatehouse — an identity-aware Layer-7 proxy for Apache Kafka

Usage:
  gatehouse run --config FILE         Run the proxy with a YAML configuration file
  gatehouse sandbox [options]         Start a local Kafka broker, an OpenID provider with demo
                                      clients, and the proxy in front requiring authentication
  gatehouse check-config FILE         Validate a configuration file (and its policy) and exit
  gatehouse hash-secret               Read a service account secret on stdin and print its
                                      hash for identity.serviceAccounts[].secretHash
  gatehouse policy check|lint ...     Ask the policy a question, or lint it (see below)
  gatehouse audit sessions|replay|tail|verify ...
                                      Read the audit trail (see below)
  gatehouse --help | --version

Sandbox options:
  --state-file FILE      Write connection details as JSON once everything is ready
  --kafka-version V      Kafka to run (default 4.3.1; 3.9.1 for compatibility checks)
  --port N               Proxy bootstrap port (default 9092, or a free one if taken;
                         0: any free ports)

${POLICY_HELP}

${AUDIT_HELP}

Documentation: README.md and docs/ in the repository.`;

function version(): string {
  // src/cli/main.ts in a checkout, dist/src/cli/main.js in the package: package.json is 2 or 3 up.
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'gatehouse') return pkg.version;
    } catch {
      // try the next
    }
  }
  return 'unknown';
}

function fail(message: string): never {
  process.stderr.write(`gatehouse: ${message}\n`);
  process.exit(2);
}

async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, allowPositionals: false });
  if (!values.config) fail('run needs --config FILE');
  const config = loadConfigFile(values.config);
  const log = createLogger(config.log.level);
  const pipeline = await pipelineFromConfig(config, log, { configPath: values.config });
  await pipeline.start();
  const proxy = new GatehouseProxy(config, { logger: log, stages: pipeline.stages, configPath: values.config });
  await proxy.start();
  const ops = config.observability ? await ObservabilityServer.start({ ...config.observability, proxy, log }) : undefined;
  log.info({ bootstrap: proxy.bootstrap, ...(proxy.tlsBootstrap ? { tlsBootstrap: proxy.tlsBootstrap } : {}), ...(ops ? { metricsPort: ops.port } : {}) }, 'gatehouse ready');
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    // Not ready from here on (the readiness probe fails), while in-flight requests drain.
    proxy.stop().then(() => pipeline.close()).then(() => ops?.close()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(`${HELP}\n`);
        return;
      case '-v':
      case '--version':
        process.stdout.write(`${version()}\n`);
        return;
      case 'run':
        return await run(rest);
      case 'sandbox': {
        const { sandbox } = await import('./sandbox.js');
        return await sandbox(rest);
      }
      case 'hash-secret': {
        const { hashSecretCommand } = await import('./hash-secret.js');
        try {
          return await hashSecretCommand();
        } catch (err) {
          fail((err as Error).message);
        }
      }
      case 'audit': {
        const { auditCommand, AuditUsageError } = await import('./audit.js');
        try {
          process.exitCode = await auditCommand(rest);
        } catch (err) {
          if (err instanceof AuditUsageError) fail(`audit: ${err.message}`);
          throw err;
        }
        return;
      }
      case 'check-config': {
        if (!rest[0]) fail('check-config needs a FILE');
        const config = loadConfigFile(rest[0]);
        const loc = policyLocation(config, rest[0]);
        if (loc) readPolicyFile(loc);
        // The files the config names must load too: certificates and keys.
        const resolved = withResolvedTlsPaths(config, rest[0]);
        if (resolved.listen.tls) new ServerTlsMaterial(resolved.listen.tls, createLogger('silent'));
        if (resolved.upstream.tls) new TlsConnector(resolved.upstream.tls, resolved.upstream.connectTimeoutMs);
        process.stdout.write(`${rest[0]}: ok\n`);
        return;
      }
      case 'policy': {
        const code = await policyCommand(rest);
        process.exitCode = code;
        return;
      }
      default:
        fail(`unknown command "${command}" (see gatehouse --help)`);
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof PolicyError || err instanceof UsageError) fail(err.message);
    throw err;
  }
}
