/**
 * The authenticated identity of a client connection, as policy and audit read it. The identity
 * stage stores it on `conn.attributes` under PRINCIPAL; read it with getPrincipal().
 */
import type { ConnectionInfo } from '../stage/connection-info.js';

export interface Principal {
  /** The principal name (the configured claim, default `sub`; with mTLS the certificate's CN or subject). */
  readonly name: string;
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
