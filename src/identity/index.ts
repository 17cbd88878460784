/** Client identity: SASL OAUTHBEARER/PLAIN with OIDC access tokens, and the principal it yields. */
export { PRINCIPAL, getPrincipal, type Principal } from './principal.js';
export { SaslStage, SaslError, type SaslMechanism, type SaslStageOptions } from './sasl-stage.js';
export { TokenValidator, TokenRejected, type RejectReason, type ValidatedToken } from './token-validator.js';
export { identityStageFromConfig } from './from-config.js';
export { ServiceAccounts, hashSecret, verifySecret, LOCAL_ISSUER } from './service-accounts.js';
