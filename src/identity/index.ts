/** Client identity: SASL OAUTHBEARER/PLAIN with OIDC access tokens, and the principal it yields. */
export { AUTH_FAILURE, PRINCIPAL, getAuthFailure, getPrincipal, type AuthFailure, type Principal } from './principal.js';
export { AUTHENTICATION_FAILED_MESSAGE, SaslStage, SaslError, type SaslMechanism, type SaslStageOptions } from './sasl-stage.js';
export { TokenValidator, TokenRejected, type RejectReason, type ValidatedToken } from './token-validator.js';
export { identityStageFromConfig } from './from-config.js';
export { ServiceAccounts, hashSecret, verifySecret, LOCAL_ISSUER } from './service-accounts.js';
