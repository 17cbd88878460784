/** Builds the identity stage from the config file's `identity` section. */
import type { Logger } from 'pino';
import type { IdentityConfig } from '../config/schema.js';
import { SaslStage } from './sasl-stage.js';
import { ServiceAccounts } from './service-accounts.js';
import { TokenValidator } from './token-validator.js';

export function identityStageFromConfig(identity: IdentityConfig | undefined, log?: Logger): SaslStage | undefined {
  if (!identity) return undefined;
  const validator = new TokenValidator({
    issuers: identity.issuers.map((i) => ({ ...i })),
    algorithms: identity.algorithms,
    clockToleranceSec: identity.clockToleranceSec,
    jwksCooldownMs: identity.jwksCooldownMs,
    jwksCacheMaxAgeMs: identity.jwksCacheMaxAgeMs,
    httpTimeoutMs: identity.httpTimeoutMs,
    introspectionCacheMs: identity.introspectionCacheMs,
    introspectionCacheEntries: identity.introspectionCacheEntries,
  });
  const serviceAccounts = identity.serviceAccounts.length > 0 ? new ServiceAccounts(identity.serviceAccounts, { limits: identity.serviceAccountChecks, log }) : undefined;
  return new SaslStage({ validator, mechanisms: identity.mechanisms, maxSessionMs: identity.maxSessionMs, mtls: identity.mtls, serviceAccounts, log });
}
