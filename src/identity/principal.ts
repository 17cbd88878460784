/**
 * The authenticated identity of a client connection, as policy and audit read it. The identity
 * stage stores it on `conn.attributes` under PRINCIPAL; read it with getPrincipal().
 */
import type { ConnectionInfo } from '../stage/connection-info.js';

export interface Principal {
  /**
   * The principal's name as audit, logs and policy see it: the bare name (the configured claim,
   * default `sub`; a service account's name; with mTLS the certificate's CN or subject), written
   * `source:bare name` where the config has several identity sources (src/identity/sources.ts).
   */
  readonly name: string;
  /** The identity source that vouched for it: the issuer's name, `local` (service account) or `mtls` (client certificate). */
  readonly source: string;
  /** `source:bare name`, whatever the config: the name no other source can give (equal to `name` where names are qualified). */
  readonly qualifiedName: string;
  /** Groups/roles from the configured claim path; empty when the claim is absent. */
  readonly groups: readonly string[];
  /** The token's issuer (one of the trusted issuers), or `local` for a service account. */
  readonly issuer: string;
  /** The OAuth client the token was issued to (`client_id` or `azp`), if the token says. */
  readonly clientId: string | undefined;
  /** The SASL mechanism the client authenticated with, or MTLS for a verified client certificate (identity.mtls). */
  readonly mechanism: 'OAUTHBEARER' | 'PLAIN' | 'MTLS';
  /** The token's expiry (ms since epoch); Infinity for a service account's secret. */
  readonly expiresAt: number;
  /** When this (re-)authentication happened (ms since epoch). */
  readonly authenticatedAt: number;
  /** The token's verified claims; with mTLS `subject`, `issuer`, `serial`, `fingerprint` of the certificate. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** The attributes key the identity stage stores the Principal under. */
export const PRINCIPAL: unique symbol = Symbol.for('gatehouse.identity.principal');

/** The connection's authenticated principal, or undefined before authentication. */
export function getPrincipal(conn: ConnectionInfo): Principal | undefined {
  return conn.attributes.get(PRINCIPAL) as Principal | undefined;
}

export function setPrincipal(conn: ConnectionInfo, p: Principal): void {
  conn.attributes.set(PRINCIPAL, p);
}

/**
 * Why the connection's last SaslAuthenticate failed. The client is told only "Authentication
 * failed" (no hint whether a name exists, a key could not be fetched, or which issuer a token
 * names); the detail is in the log line and here, for the audit event.
 */
export interface AuthFailure {
  /** The detailed reason, as logged (`authentication failed`, GH_AUTH_FAILED), e.g. `token expired: token expired at …`. */
  readonly reason: string;
  /** The Kafka error code answered (SASL_AUTHENTICATION_FAILED, or ILLEGAL_SASL_STATE). */
  readonly errorCode: number;
  readonly mechanism: 'OAUTHBEARER' | 'PLAIN' | undefined;
  /** ms since epoch */
  readonly at: number;
}

/** The attributes key the identity stage stores the last AuthFailure under. */
export const AUTH_FAILURE: unique symbol = Symbol.for('gatehouse.identity.auth-failure');

/** Why the connection's last SaslAuthenticate failed, if it did (the client heard only "Authentication failed"). */
export function getAuthFailure(conn: ConnectionInfo): AuthFailure | undefined {
  return conn.attributes.get(AUTH_FAILURE) as AuthFailure | undefined;
}
