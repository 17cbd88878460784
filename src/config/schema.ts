/**
 * The configuration file's shape. Every key has a default except upstream.bootstrap, so the
 * smallest useful file is two lines. Later stages (identity, policy, audit) add their sections.
 */
import { z } from 'zod';
import { parseSecretHash } from '../identity/service-accounts.js';
import { RESERVED_SOURCES, SOURCE_NAME_PATTERN } from '../identity/sources.js';

const port = z.number().int().min(0).max(65535);
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port');

const asymmetricAlg = z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

const issuerSchema = z
  .object({
    /** The issuer URL exactly as tokens carry it in `iss`; discovery reads <issuer>/.well-known/openid-configuration. */
    issuer: z.string().url(),
    /**
     * A short name for this issuer (letters, digits, `.`, `_`, `-`): its principals are named
     * `name:subject` where several identity sources could give the same name, and policies pin
     * the issuer by it. Required when there are several issuers; a lone issuer defaults to `oidc`.
     */
    name: z
      .string()
      .regex(SOURCE_NAME_PATTERN, 'issuer names use letters, digits, . _ - (no ":")')
      .refine((n) => !RESERVED_SOURCES.includes(n), { message: `${RESERVED_SOURCES.map((n) => `"${n}"`).join(' and ')} name the service accounts and client certificates` })
      .optional(),
    /** Accepted `aud` value(s); a token must name at least one. */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** The issuer's JWKS URL; when absent it comes from discovery. */
    jwksUri: z.string().url().optional(),
    /** Claim (dot path) naming the principal. */
    principalClaim: z.string().min(1).default('sub'),
    /** Claim (dot path) holding groups/roles: an array, or a space-separated string like `scope`. */
    groupsClaim: z.string().min(1).default('groups'),
    /**
     * JWT access tokens must be typed `at+jwt` (RFC 9068) so that ID tokens are not taken for
     * them; true also accepts `typ: JWT` or untyped ones (Keycloak, Entra ID …), refusing those
     * that show they are ID or logout tokens (nonce, at_hash, c_hash, events, Keycloak's typ claim).
     */
    acceptPlainJwtAccessTokens: z.boolean().default(false),
    /** RFC 7662 introspection of opaque tokens (and of every token with `always`). Absent: only JWTs. */
    introspection: z
      .object({
        /** The introspection endpoint; absent: `introspection_endpoint` from discovery. */
        endpoint: z.string().url().optional(),
        /** The proxy's client at the issuer (HTTP Basic). */
        clientId: z.string().min(1),
        /** Usually `${ENV_VAR}`; never logged. */
        clientSecret: z.string().min(1),
        /** Introspect this issuer's JWTs too instead of checking them locally. */
        always: z.boolean().default(false),
      })
      .strict()
      .optional(),
  })
  .strict();

const serviceAccountSchema = z
  .object({
    /** The SASL/PLAIN user name. */
    name: z.string().min(1),
    /** `scrypt$N$r$p$salt$hash` from `gatehouse hash-secret`. */
    secretHash: z.string().superRefine((v, ctx) => {
      try {
        parseSecretHash(v);
      } catch (err) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      }
    }),
    groups: z.array(z.string().min(1)).default([]),
  })
  .strict();

/** A second listener set speaking TLS (SASL_SSL / SSL for clients), next to the plaintext one. */
const listenTlsSchema = z
  .object({
    /** The TLS bootstrap listener's port. */
    bootstrapPort: port.default(9093),
    /** Broker with node id N is reached over TLS on brokerPortBase + N (`0`: any free port). */
    brokerPortBase: port.default(9200),
    /** PEM certificate (chain) file. */
    certFile: z.string().min(1),
    /** PEM private key file (unencrypted). */
    keyFile: z.string().min(1),
    /** PEM CA bundle that client certificates must chain to (required unless clientAuth is none). */
    caFile: z.string().min(1).optional(),
    /** Client certificates: not asked for, asked for (verified if sent), or required. */
    clientAuth: z.enum(['none', 'requested', 'required']).default('none'),
    /** How often the certificate, key and CA files are checked for changes (reloaded without a restart). */
    reloadCheckMs: z.number().int().min(100).default(10_000),
  })
  .strict()
  .refine((v) => v.clientAuth === 'none' || v.caFile !== undefined, { message: 'caFile is required when clientAuth is requested or required', path: ['caFile'] });

/** TLS on the proxy's connections to brokers. */
const upstreamTlsSchema = z
  .object({
    /** PEM CA bundle the brokers' certificates must chain to; absent: the system's trusted CAs. */
    caFile: z.string().min(1).optional(),
    /** The proxy's own client certificate, for brokers with ssl.client.auth (both or neither). */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** Name sent in SNI and checked against the brokers' certificates; default: each broker's host. */
    servername: z.string().min(1).optional(),
    /** Accept any broker certificate. Defeats TLS against an active attacker; for experiments only. */
    insecureSkipVerify: z.boolean().default(false),
  })
  .strict()
  .refine((v) => (v.certFile === undefined) === (v.keyFile === undefined), { message: 'certFile and keyFile go together', path: ['keyFile'] });

/** A verified client certificate (mTLS on a `listen.tls` listener) authenticates the connection without SASL. */
const mtlsIdentitySchema = z
  .object({
    /** The principal name: the subject's (first) CN, or the whole subject as an RFC 2253 string (`CN=app,O=Example`). */
    principalFrom: z.enum(['CN', 'subject']).default('CN'),
    /** Groups from the subject's OU or O values; `none`: no groups. */
    groupsFrom: z.enum(['OU', 'O', 'none']).default('OU'),
  })
  .strict();

const identitySchema = z
  .object({
    /** Trusted token issuers; a token is checked against the one its `iss` names. */
    issuers: z.array(issuerSchema).default([]),
    /** Local accounts for SASL/PLAIN with a secret (hashed). Off unless listed. */
    serviceAccounts: z.array(serviceAccountSchema).default([]),
    /**
     * Proxy-wide bound on the scrypt checks of service-account logins (each ~100 ms of a libuv
     * thread and 32 MiB at the default hash parameters; logins naming no account cost a dummy
     * check). Logins beyond it are refused as failed logins without any check.
     */
    serviceAccountChecks: z
      .object({
        /** Checks running at once; admitted ones beyond wait their turn. */
        maxInFlight: z.number().int().min(1).max(64).default(2),
        /** Checks admitted per second; also the burst taken at once and how many may wait. */
        perSecond: z.number().int().min(1).max(10_000).default(20),
      })
      .strict()
      .default({}),
    /** Client certificates as identities (needs `listen.tls.clientAuth` requested or required). Absent: certificates do not authenticate. */
    mtls: mtlsIdentitySchema.optional(),
    /** SASL mechanisms offered to clients. PLAIN takes an access token as the password. */
    mechanisms: z.array(z.enum(['OAUTHBEARER', 'PLAIN'])).min(1).default(['OAUTHBEARER', 'PLAIN']),
    /** Signature algorithms accepted (asymmetric only; `none` and HS* are never accepted). */
    algorithms: z.array(asymmetricAlg).min(1).default(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']),
    /** Sessions end after at most this long even if the token lives longer; clients re-authenticate (KIP-368). Absent: at the token's expiry. */
    maxSessionMs: z.number().int().min(1000).optional(),
    /** Leeway for exp, nbf and iat, in seconds. */
    clockToleranceSec: z.number().int().min(0).max(600).default(30),
    /** Least time between two JWKS fetches of one issuer; a token with an unknown kid waits at most this long. */
    jwksCooldownMs: z.number().int().min(0).default(30_000),
    /** Keys are refetched after this long even if no unknown kid appears. */
    jwksCacheMaxAgeMs: z.number().int().positive().default(600_000),
    /** Timeout for discovery, JWKS and introspection requests. */
    httpTimeoutMs: z.number().int().positive().default(5_000),
    /** How long an introspection result is reused (never past the token's exp); 0: ask every time. */
    introspectionCacheMs: z.number().int().min(0).default(60_000),
    /** Most introspection results kept at once. */
    introspectionCacheEntries: z.number().int().min(1).default(10_000),
  })
  .strict()
  .refine((v) => v.issuers.length > 0 || v.serviceAccounts.length > 0, { message: 'needs at least one issuer or service account', path: ['issuers'] })
  .refine((v) => new Set(v.issuers.map((i) => i.issuer)).size === v.issuers.length, { message: 'each issuer may appear once', path: ['issuers'] })
  .superRefine((v, ctx) => {
    if (v.issuers.length < 2) return;
    const seen = new Set<string>();
    v.issuers.forEach((i, index) => {
      if (i.name === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['issuers', index, 'name'], message: 'with several issuers each needs a name: principals are named name:subject, so that two issuers cannot give the same principal' });
      } else if (seen.has(i.name)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['issuers', index, 'name'], message: `issuer name "${i.name}" is taken by another issuer` });
      }
      if (i.name !== undefined) seen.add(i.name);
    });
  })
  .refine((v) => new Set(v.serviceAccounts.map((a) => a.name)).size === v.serviceAccounts.length, { message: 'each service account name may appear once', path: ['serviceAccounts'] })
  .refine((v) => v.serviceAccounts.length === 0 || v.mechanisms.includes('PLAIN'), { message: 'service accounts log in with PLAIN: add it to mechanisms', path: ['mechanisms'] });

const auditSchema = z
  .object({
    /** The audit topic. */
    topic: z.string().min(1).max(249).regex(/^[A-Za-z0-9._-]+$/).default('__gatehouse_audit'),
    /** The audit topic's cluster; default: upstream.bootstrap (with upstream.tls and upstream.sasl). */
    bootstrap: z.array(hostPort).min(1).optional(),
    /** Log in to the audit cluster with upstream.sasl (PLAIN/SCRAM/OAUTHBEARER) when it is set. */
    useUpstreamSasl: z.boolean().default(true),
    /** Reach the audit cluster with upstream.tls (CA, client certificate, servername, verification) when it is set. */
    useUpstreamTls: z.boolean().default(true),
    /** fail-open: clients go on while the spool has room; fail-closed: requests are refused while their events cannot reach the topic. */
    mode: z.enum(['fail-open', 'fail-closed']).default('fail-open'),
    /** This proxy's chain id; default: host name and a random suffix per start. */
    instanceId: z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/).optional(),
    /** The cluster's name in webhook messages; default: the first upstream address. */
    cluster: z.string().min(1).optional(),
    /** Created when missing, with these settings. */
    createTopic: z
      .object({
        partitions: z.number().int().min(1).default(3),
        /** -1: the broker's default.replication.factor. */
        replicationFactor: z.number().int().min(-1).default(-1),
        configs: z.record(z.string()).default({}),
      })
      .strict()
      .nullable()
      .default({}),
    spool: z
      .object({
        /** Default: .gatehouse-audit-spool next to the config file. */
        dir: z.string().min(1).optional(),
        maxBytes: z.number().int().min(1024).default(256 * 1024 * 1024),
      })
      .strict()
      .default({}),
    /**
     * Sessions that never authenticate (failed logins, probes, scans): per client address and
     * window the first are recorded in full, the rest counted in one `sessions.summary` event per
     * address and window. Authenticated sessions are always recorded in full.
     */
    unauthenticated: z
      .object({
        /** Unauthenticated sessions per client address and window recorded in full. */
        inFullPerAddress: z.number().int().min(0).default(20),
        /** Unauthenticated sessions per window recorded in full, all addresses together. */
        inFullTotal: z.number().int().min(0).default(1000),
        windowMs: z.number().int().min(1000).default(60_000),
        /** Addresses with a summary of their own per window; further addresses share one (address `*`). */
        addresses: z.number().int().min(1).default(10_000),
      })
      .strict()
      .default({}),
    /** How often a checkpoint event (last seq and hash) is written. */
    checkpointIntervalMs: z.number().int().min(1000).default(60_000),
    /** Longest wait between two attempts to reach the audit topic. */
    retryMaxMs: z.number().int().min(50).default(5_000),
    /** Payload capture per topic (first match wins; default none). */
    capture: z
      .array(z.object({ topics: z.array(z.string().min(1)).min(1), mode: z.enum(['none', 'keys-headers', 'full']) }).strict())
      .default([]),
    /** Webhook destinations (the WEBHOOK_* environment variables add one more). */
    webhooks: z
      .array(
        z
          .object({
            provider: z.enum(['slack', 'teams', 'generic']),
            url: z.string().url(),
            verbosity: z.enum(['MUTATIONS', 'QUERIES', 'ALL']).default('MUTATIONS'),
            /** HMAC-SHA256 key for the generic provider's signature; usually `${ENV_VAR}`. */
            secret: z.string().min(1).optional(),
          })
          .strict(),
      )
      .default([]),
    alerts: z
      .object({
        authFailures: z
          .object({
            threshold: z.number().int().min(1).default(5),
            windowMs: z.number().int().min(1000).default(60_000),
            by: z.array(z.enum(['principal', 'address'])).min(1).default(['principal', 'address']),
          })
          .strict()
          .optional(),
        deniedMutations: z.boolean().default(true),
        criticalTopics: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({}),
  })
  .strict();

export const configSchema = z
  .object({
    listen: z
      .object({
        /** Address the listeners bind to. */
        host: z.string().min(1).default('0.0.0.0'),
        /** Host name clients are told to connect to (in rewritten broker addresses). */
        advertisedHost: z.string().min(1).default('localhost'),
        /** The bootstrap listener's port. */
        bootstrapPort: port.default(9092),
        /** Broker with node id N is reached on brokerPortBase + N. */
        brokerPortBase: port.default(9100),
        /** An additional listener set with TLS. Absent: plaintext listeners only. */
        tls: listenTlsSchema.optional(),
      })
      .strict()
      .default({}),
    upstream: z
      .object({
        /** The real cluster's bootstrap servers. */
        bootstrap: z.array(hostPort).min(1),
        connectTimeoutMs: z.number().int().positive().default(10_000),
        /** TLS to the brokers (their SSL / SASL_SSL listener). Absent: plaintext. */
        tls: upstreamTlsSchema.optional(),
        /** The proxy's own SASL login to every broker connection (clients never see it). Absent: no upstream SASL. */
        sasl: z
          .discriminatedUnion('mechanism', [
            z
              .object({
                mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
                username: z.string().min(1),
                /** Usually `${ENV_VAR}`; never logged. */
                password: z.string().min(1),
              })
              .strict(),
            z
              .object({
                /** A client-credentials access token from the identity provider, refreshed before it expires. */
                mechanism: z.literal('OAUTHBEARER'),
                tokenEndpoint: z.string().url(),
                clientId: z.string().min(1),
                /** Usually `${ENV_VAR}`; never logged. */
                clientSecret: z.string().min(1),
                /** Optional `scope` parameter of the token request. */
                scope: z.string().min(1).optional(),
              })
              .strict(),
          ])
          .optional(),
      })
      .strict(),
    limits: z
      .object({
        /** Largest request frame accepted from a client, like the broker's socket.request.max.bytes. */
        maxFrameBytes: z.number().int().min(1024).default(100 * 1024 * 1024),
        /** A connection with no traffic for this long is closed (the broker's connections.max.idle.ms). */
        idleTimeoutMs: z.number().int().positive().default(600_000),
        /** With identity: largest request frame before the client has logged in (the broker's sasl.server.max.receive.size). */
        maxUnauthenticatedFrameBytes: z.number().int().min(1024).default(512 * 1024),
        /** With identity: a connection not logged in this long after connecting is closed. */
        loginTimeoutMs: z.number().int().min(100).default(10_000),
        /** With identity: connections not logged in yet that one client address may hold at once; more are refused. */
        maxUnauthenticatedConnectionsPerAddress: z.number().int().min(1).default(64),
        /** With identity: failed logins counted per window; beyond a limit, attempts are refused unchecked until the window ends. */
        loginAttempts: z
          .object({
            /** Failed logins from one client address per window; 0: no limit. */
            perAddress: z.number().int().min(0).default(100),
            /** Failed logins naming one account (SASL/PLAIN user name, OAUTHBEARER authzid) per window; 0: no limit. */
            perAccount: z.number().int().min(0).default(30),
            windowMs: z.number().int().min(1000).default(60_000),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    performance: z
      .object({
        /**
         * Move the bytes of large cut-through responses (a consumer's Fetch) from the broker's
         * socket to the client's inside the kernel (Linux splice; needs the native relay built at
         * install). false: every byte is read into the proxy and written out again.
         */
        zeroCopy: z.boolean().default(true),
      })
      .strict()
      .default({}),
    shutdown: z
      .object({
        /** On SIGTERM, how long in-flight requests may take before connections are cut. */
        drainTimeoutMs: z.number().int().min(0).default(10_000),
      })
      .strict()
      .default({}),
    /** Client authentication (SASL OAUTHBEARER/PLAIN with OIDC tokens). Absent: clients are not authenticated. */
    identity: identitySchema.optional(),
    /** The audit trail (audit topic, spool, webhooks, alerts). Absent: nothing is recorded. */
    audit: auditSchema.optional(),
    /** Authorization: roles and rules, inline or in a file of their own. Absent: every authenticated request is forwarded. */
    policy: z
      .object({
        /** A policy file (relative to this config file); watched and reloaded on change and on SIGHUP. */
        file: z.string().min(1).optional(),
        /** The policy inline (see docs/policy.md); reloaded when this config file changes. */
        roles: z.record(z.string(), z.unknown()).optional(),
        /** Watch the policy's file for changes. */
        watch: z.boolean().default(true),
        /**
         * APIs that hand out or change broker credentials, which act with the proxy's own broker
         * identity; off unless turned on here, whatever the policy grants (docs/policy.md).
         */
        brokerCredentialApis: z
          .object({
            /** CreateDelegationToken, RenewDelegationToken, ExpireDelegationToken, DescribeDelegationToken. */
            delegationTokens: z.boolean().default(false),
            /** DescribeUserScramCredentials, AlterUserScramCredentials (never for the proxy's own upstream user). */
            scramCredentials: z.boolean().default(false),
          })
          .strict()
          .default({}),
      })
      .strict()
      .refine((p) => (p.file === undefined) !== (p.roles === undefined), { message: 'give either file or roles' })
      .optional(),
    /** Prometheus metrics and health checks over HTTP. Absent: no endpoint. */
    observability: z
      .object({
        host: z.string().min(1).default('0.0.0.0'),
        /** `/metrics`, `/healthz` and `/readyz` on this port; 0 picks a free one. */
        port: port.default(9404),
      })
      .strict()
      .optional(),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      })
      .strict()
      .default({}),
  })
  .strict();

export type GatehouseConfig = z.infer<typeof configSchema>;
export type GatehouseConfigInput = z.input<typeof configSchema>;
export type IdentityConfig = z.infer<typeof identitySchema>;
export type AuditConfig = z.infer<typeof auditSchema>;
export type UpstreamConfig = GatehouseConfig['upstream'];
export type ListenTlsConfig = NonNullable<GatehouseConfig['listen']['tls']>;
export type UpstreamTlsConfig = NonNullable<UpstreamConfig['tls']>;
export type MtlsIdentityConfig = NonNullable<IdentityConfig['mtls']>;
