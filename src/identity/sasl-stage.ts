/**
 * The identity stage: SASL/OAUTHBEARER and SASL/PLAIN on the client side, answered by the proxy
 * itself. SaslHandshake (v1) picks the mechanism, SaslAuthenticate carries the token; neither is
 * forwarded. Until a connection has authenticated only ApiVersions and the SASL requests are
 * accepted; anything else closes it. KIP-368: the SaslAuthenticate response says how long the
 * session may last (until the token expires), clients re-authenticate on the same connection,
 * and a connection that let its token expire is closed at its next request.
 *
 * Until a connection has authenticated, the stage holds its broker connection back
 * (holdUpstream): a client that never logs in costs no broker connection and no upstream login;
 * its ApiVersions is answered from the broker's remembered answer.
 *
 * With PLAIN, a user name that names a local service account is checked against that account's
 * hashed secret instead (principal issuer `local`, no expiry unless maxSessionMs). A refused
 * PLAIN login naming no account costs the same scrypt work as a wrong secret (a dummy check), so
 * that timing does not tell which account names exist.
 *
 * A failed SaslAuthenticate is answered with an error code (SASL_AUTHENTICATION_FAILED, not RFC
 * 7628's error challenge, which kafkajs takes for success) and always the same errorMessage,
 * "Authentication failed": an unauthenticated client learns nothing about names, issuers or key
 * fetches. The reason goes to the log line (`authentication failed`, GH_AUTH_FAILED) and to the
 * connection's AUTH_FAILURE attribute (getAuthFailure(), for the audit). Like a broker, the proxy
 * then closes the connection at its next request, so each connection gets one attempt. Tokens
 * and secrets are never logged.
 *
 * Until a connection has authenticated, the proxy holds it to its limits for strangers (a small
 * frame limit, a login deadline, a share of its address's connections: see ConnectionLimits); the
 * stage admits it (`conn.limits.admit()`) at its first successful login. Failed logins are counted
 * per client address and per account name (login-attempts.ts): beyond the limits, an attempt is
 * refused like any failed one, before any token check or scrypt work, the reason logged.
 *
 * With `mtls` options, a connection whose client certificate verified (TLS listener set, see
 * src/identity/mtls.ts) is authenticated at connect time, its session lasting until the
 * certificate expires. Such a client may still authenticate with SASL; the SASL principal then
 * replaces the certificate's.
 */
import type { Logger } from 'pino';
import { ApiKey } from '../../protocol/generated/index.js';
import type { ApiVersionsResponse } from '../../protocol/generated/api-versions-response.js';
import type { SaslAuthenticateResponse } from '../../protocol/generated/sasl-authenticate-response.js';
import type { SaslHandshakeResponse } from '../../protocol/generated/sasl-handshake-response.js';
import type { MtlsIdentityConfig } from '../config/schema.js';
import type { ConnectionInfo } from '../stage/connection-info.js';
import { isRequest, isResponse, type InterceptedRequest, type InterceptedResponse, type RequestDecision, type Stage } from '../stage/stage.js';
import { principalFromCertificate } from './mtls.js';
import type { LoginAttempts } from './login-attempts.js';
import { AUTH_FAILURE, PRINCIPAL, getPrincipal, setPrincipal, type AuthFailure, type Principal } from './principal.js';
import { parseOAuthBearerClientFirst, parsePlain, SaslMessageError } from './sasl-messages.js';
import type { ServiceAccounts } from './service-accounts.js';
import { principalName, qualifiedName } from './sources.js';
import { TokenRejected, type ValidatedToken } from './token-result.js';

export type SaslMechanism = 'OAUTHBEARER' | 'PLAIN';

/** Kafka error codes the stage answers with. */
export const SaslError = {
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  SASL_AUTHENTICATION_FAILED: 58,
} as const;

/** The errorMessage of every failed SaslAuthenticate; the reason is logged and kept in AUTH_FAILURE. */
export const AUTHENTICATION_FAILED_MESSAGE = 'Authentication failed';

export interface TokenCheck {
  validate(token: string): Promise<ValidatedToken>;
}

export interface SaslStageOptions {
  validator: TokenCheck;
  mechanisms: readonly SaslMechanism[];
  /** Sessions end after at most this long even if the token lives longer (like the broker's connections.max.reauth.ms). */
  maxSessionMs?: number | undefined;
  /** Verified client certificates authenticate the connection (identity.mtls). */
  mtls?: MtlsIdentityConfig | undefined;
  /** Local service accounts for SASL/PLAIN: a PLAIN user name that names one is checked against its secret, not as a token. */
  serviceAccounts?: ServiceAccounts | undefined;
  /** Failed logins counted per address and account, and attempts beyond the limits refused unchecked (limits.loginAttempts). */
  loginAttempts?: LoginAttempts | undefined;
  /** Name principals `source:name` (the config has several identity sources, src/identity/sources.ts). */
  qualifyNames?: boolean | undefined;
  log?: Logger | undefined;
  /** For tests. */
  now?: () => number;
}

interface SaslState {
  /** The mechanism the last SaslHandshake chose, awaiting its SaslAuthenticate. */
  pending: SaslMechanism | undefined;
  /** Set by a failed SaslAuthenticate: like a broker, the proxy then closes at the next request. */
  failed: boolean;
  /** When the current session ends (ms since epoch): the token's expiry, or sooner with maxSessionMs. */
  sessionEndsAt: number;
}

const STATE = Symbol('gatehouse.identity.sasl-state');
const EMPTY = Buffer.alloc(0);

/** Requests a connection may send before it has authenticated. */
const BEFORE_AUTH = new Set<number>([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

export class SaslStage implements Stage {
  readonly name = 'identity';
  /** Connections are held to the limits for strangers until they log in. */
  readonly admitsConnections = true;
  readonly interest = { requests: 'all' as const, responses: new Set<number>([ApiKey.ApiVersions]) };
  private readonly now: () => number;

  constructor(private readonly opts: SaslStageOptions) {
    this.now = opts.now ?? Date.now;
  }

  onConnect(conn: ConnectionInfo): void {
    const state: SaslState = { pending: undefined, failed: false, sessionEndsAt: 0 };
    conn.attributes.set(STATE, state);
    if (!this.opts.mtls || !conn.tls?.peerSubject) return;
    const p = principalFromCertificate(conn.tls, this.opts.mtls, this.now(), this.opts.qualifyNames ?? false);
    if (typeof p === 'string') {
      this.opts.log?.warn({ conn: conn.id, code: 'GH_AUTH_FAILED', mechanism: 'MTLS', reason: p }, 'authentication failed');
      return; // the client may still authenticate with SASL
    }
    setPrincipal(conn, p);
    conn.limits?.admit();
    state.sessionEndsAt = Math.min(p.expiresAt, this.now() + (this.opts.maxSessionMs ?? Infinity));
    this.opts.log?.info(
      { conn: conn.id, principal: p.name, groups: p.groups, issuer: p.issuer, mechanism: 'MTLS', fingerprint: conn.tls.peerCertFingerprint, expiresAt: new Date(p.expiresAt).toISOString() },
      'client authenticated',
    );
  }

  /** No broker connection for a connection that has not authenticated (yet). */
  holdUpstream(conn: ConnectionInfo): boolean {
    return getPrincipal(conn) === undefined;
  }

  onRequest(req: InterceptedRequest): RequestDecision | Promise<RequestDecision> {
    const key = req.header.apiKey;
    const state = this.state(req.connection);
    // One attempt per connection, as with a broker: the failure's reason has been answered.
    if (state.failed) return { close: `${req.header.apiName} request after failed authentication` };
    if (key === ApiKey.SaslHandshake) return this.handshake(req);
    if (key === ApiKey.SaslAuthenticate) return this.authenticate(req);
    if (BEFORE_AUTH.has(key)) return undefined;
    const p = getPrincipal(req.connection);
    if (!p) return { close: `${req.header.apiName} request before authentication` };
    if (this.now() >= state.sessionEndsAt) {
      return { close: `session of ${p.name} expired at ${new Date(state.sessionEndsAt).toISOString()} without re-authentication` };
    }
    return undefined;
  }

  /** Makes sure clients see that the proxy speaks SaslHandshake and SaslAuthenticate. */
  onResponse(res: InterceptedResponse): void {
    if (!isResponse(res, ApiKey.ApiVersions)) return;
    const body = res.body();
    if (body.errorCode !== 0) return;
    let changed = false;
    for (const [apiKey, maxVersion] of [
      [ApiKey.SaslHandshake, 1],
      [ApiKey.SaslAuthenticate, 2],
    ] as const) {
      if (!body.apiKeys.some((k) => k.apiKey === apiKey)) {
        body.apiKeys.push({ apiKey, minVersion: 0, maxVersion } as ApiVersionsResponse['apiKeys'][number]);
        changed = true;
      }
    }
    if (changed) res.setBody(body);
  }

  private state(conn: ConnectionInfo): SaslState {
    let s = conn.attributes.get(STATE) as SaslState | undefined;
    if (!s) conn.attributes.set(STATE, (s = { pending: undefined, failed: false, sessionEndsAt: 0 }));
    return s;
  }

  private handshake(req: InterceptedRequest): RequestDecision {
    if (!isRequest(req, ApiKey.SaslHandshake)) return undefined;
    const { mechanism } = req.body();
    const mechanisms = [...this.opts.mechanisms];
    const state = this.state(req.connection);
    state.pending = undefined;
    if (req.header.apiVersion === 0) {
      // v0 means the unframed legacy exchange (raw SASL bytes follow, no Kafka framing); every
      // current client uses v1 + SaslAuthenticate. Refused, and whatever comes next closes the
      // connection, so raw SASL bytes cannot be taken for a request or leave the client waiting.
      state.failed = true;
      this.opts.log?.warn({ conn: req.connection.id, code: 'GH_AUTH_FAILED' }, 'SaslHandshake v0 (unframed SASL) is not supported');
      return { respond: { errorCode: SaslError.ILLEGAL_SASL_STATE, mechanisms } satisfies SaslHandshakeResponse };
    }
    if (!(mechanisms as string[]).includes(mechanism)) {
      this.opts.log?.warn({ conn: req.connection.id, code: 'GH_AUTH_FAILED', mechanism: mechanism.slice(0, 40) }, 'unsupported SASL mechanism');
      return { respond: { errorCode: SaslError.UNSUPPORTED_SASL_MECHANISM, mechanisms } satisfies SaslHandshakeResponse };
    }
    state.pending = mechanism as SaslMechanism;
    return { respond: { errorCode: 0, mechanisms } satisfies SaslHandshakeResponse };
  }

  private async authenticate(req: InterceptedRequest): Promise<RequestDecision> {
    const conn = req.connection;
    const state = this.state(conn);
    const mechanism = state.pending;
    state.pending = undefined;
    const attempts = this.opts.loginAttempts;
    /** The account the attempt names (PLAIN user name, OAUTHBEARER authzid), once parsed. */
    let claimedName: string | undefined;
    const fail = (errorCode: number, why: string, counted = true): RequestDecision => {
      // A failed (re-)authentication leaves the connection unauthenticated.
      conn.attributes.delete(PRINCIPAL);
      state.failed = true;
      if (counted) attempts?.failed(conn.remoteAddress, claimedName);
      this.opts.log?.warn({ conn: conn.id, code: 'GH_AUTH_FAILED', mechanism, reason: why }, 'authentication failed');
      conn.attributes.set(AUTH_FAILURE, { reason: why, errorCode, mechanism, at: this.now() } satisfies AuthFailure);
      // The client hears no reason: whether a name exists, which issuer a token names or that keys could not be fetched is for the log.
      const body: SaslAuthenticateResponse = { errorCode, errorMessage: AUTHENTICATION_FAILED_MESSAGE, authBytes: EMPTY, sessionLifetimeMs: 0n };
      return { respond: body };
    };
    if (!mechanism) return fail(SaslError.ILLEGAL_SASL_STATE, 'SaslAuthenticate without a preceding SaslHandshake');

    if (!isRequest(req, ApiKey.SaslAuthenticate)) return undefined;
    const { authBytes } = req.body();
    let token: string;
    let account: string | undefined;
    try {
      if (mechanism === 'OAUTHBEARER') {
        const m = parseOAuthBearerClientFirst(authBytes);
        token = m.token;
        claimedName = m.authzid || undefined;
      } else {
        const m = parsePlain(authBytes);
        token = m.password;
        claimedName = m.username || undefined;
        if (m.authzid && m.authzid !== m.username) return fail(SaslError.SASL_AUTHENTICATION_FAILED, 'PLAIN authorization id differs from the username');
        if (this.opts.serviceAccounts?.has(m.username)) account = m.username;
      }
    } catch (err) {
      if (err instanceof SaslMessageError) return fail(SaslError.SASL_AUTHENTICATION_FAILED, `malformed: ${err.message}`);
      throw err;
    }
    // Beyond the failed-login limits: refused before any check, and not counted again.
    const refused = attempts?.refusal(conn.remoteAddress, claimedName);
    if (refused !== undefined) return fail(SaslError.SASL_AUTHENTICATION_FAILED, refused, false);
    // A PLAIN login naming no service account (when there are some) is refused only after the
    // scrypt work a wrong secret costs, so that its timing does not tell the name is no account.
    const accounts = mechanism === 'PLAIN' && account === undefined ? this.opts.serviceAccounts : undefined;
    const refuse = async (why: string): Promise<RequestDecision> => {
      if (accounts) await accounts.dummyCheck(token);
      return fail(SaslError.SASL_AUTHENTICATION_FAILED, why);
    };

    let t: ValidatedToken;
    try {
      t = account !== undefined ? await this.opts.serviceAccounts!.authenticate(account, token) : await this.opts.validator.validate(token);
    } catch (err) {
      if (err instanceof TokenRejected) return refuse(account !== undefined ? err.message : `token ${err.message}`);
      throw err;
    }
    const name = principalName(t.source, t.principal, this.opts.qualifyNames ?? false);
    if (claimedName !== undefined && claimedName !== t.principal && claimedName !== name && claimedName !== t.clientId) {
      return refuse(`user name ${JSON.stringify(claimedName.slice(0, 100))} does not match the token's principal`);
    }
    const now = this.now();
    const previous = getPrincipal(conn);
    const qualified = qualifiedName(t.source, t.principal);
    // A certificate's principal gives way to a SASL one; a SASL principal stays who it is (the same name from the same source).
    if (previous && previous.mechanism !== 'MTLS' && previous.qualifiedName !== qualified) {
      // KIP-368: re-authentication may not change who the connection is.
      const [as, of] = name === previous.name ? [qualified, previous.qualifiedName] : [name, previous.name];
      return refuse(`re-authentication as ${as} on a connection of ${of}`);
    }
    const principal: Principal = {
      name,
      source: t.source,
      qualifiedName: qualified,
      groups: t.groups,
      issuer: t.issuer,
      clientId: t.clientId,
      mechanism,
      expiresAt: t.expiresAt,
      authenticatedAt: now,
      claims: t.claims,
    };
    setPrincipal(conn, principal);
    conn.limits?.admit();
    conn.attributes.delete(AUTH_FAILURE);
    // A credential without expiry (a service account secret) and no maxSessionMs: session_lifetime_ms 0, no re-authentication.
    const lifetime = Math.max(1, Math.min(t.expiresAt - now, this.opts.maxSessionMs ?? Infinity));
    state.sessionEndsAt = now + lifetime;
    this.opts.log?.info(
      { conn: conn.id, principal: name, groups: t.groups, issuer: t.issuer, mechanism, expiresAt: Number.isFinite(t.expiresAt) ? new Date(t.expiresAt).toISOString() : null, reauth: !!previous },
      previous && previous.mechanism !== 'MTLS' ? 'client re-authenticated' : 'client authenticated',
    );
    const body: SaslAuthenticateResponse = { errorCode: 0, errorMessage: null, authBytes: EMPTY, sessionLifetimeMs: Number.isFinite(lifetime) ? BigInt(lifetime) : 0n };
    return { respond: body };
  }
}
