/** Builds the identity stage from the config file's `identity` section. */
import type { Logger } from 'pino';
import type { GatehouseConfig, IdentityConfig } from '../config/schema.js';
import { LoginAttempts } from './login-attempts.js';
import { SaslStage } from './sasl-stage.js';
import { ServiceAccounts } from './service-accounts.js';
import { issuerSourceName, qualifiesNames } from './sources.js';
import { TokenValidator } from './token-validator.js';

/** `loginAttempts`: limits.loginAttempts (absent: failed logins are not limited). */
export function identityStageFromConfig(
  identity: IdentityConfig | undefined,
  log?: Logger,
  loginAttempts?: GatehouseConfig['limits']['loginAttempts'],
): SaslStage | undefined {
  if (!identity) return undefined;
  const validator = new TokenValidator({
    issuers: identity.issuers.map((i, index) => ({ ...i, name: issuerSourceName(identity, index) })),
    algorithms: identity.algorithms,
    clockToleranceSec: identity.clockToleranceSec,
    jwksCooldownMs: identity.jwksCooldownMs,
    jwksCacheMaxAgeMs: identity.jwksCacheMaxAgeMs,
    httpTimeoutMs: identity.httpTimeoutMs,
    introspectionCacheMs: identity.introspectionCacheMs,
    introspectionCacheEntries: identity.introspectionCacheEntries,
  });
  const serviceAccounts = identity.serviceAccounts.length > 0 ? new ServiceAccounts(identity.serviceAccounts, { limits: identity.serviceAccountChecks, log }) : undefined;
  const attempts = loginAttempts ? new LoginAttempts(loginAttempts) : undefined;
  return new SaslStage({ validator, mechanisms: identity.mechanisms, maxSessionMs: identity.maxSessionMs, mtls: identity.mtls, serviceAccounts, loginAttempts: attempts, qualifyNames: qualifiesNames(identity), log });
}
