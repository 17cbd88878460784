/**
 * The configuration file's shape. Every key has a default except upstream.bootstrap, so the
 * smallest useful file is two lines. Later stages (identity, policy, audit) add their sections.
 */
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port');

const asymmetricAlg = z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

const issuerSchema = z
  .object({
    /** The issuer URL exactly as tokens carry it in `iss`; discovery reads <issuer>/.well-known/openid-configuration. */
    issuer: z.string().url(),
    /** Accepted `aud` value(s); a token must name at least one. */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** The issuer's JWKS URL; when absent it comes from discovery. */
    jwksUri: z.string().url().optional(),
    /** Claim (dot path) naming the principal. */
    principalClaim: z.string().min(1).default('sub'),
    /** Claim (dot path) holding groups/roles: an array, or a space-separated string like `scope`. */
    groupsClaim: z.string().min(1).default('groups'),
  })
  .strict();

const identitySchema = z
  .object({
    /** Trusted token issuers; a token is checked against the one its `iss` names. */
    issuers: z.array(issuerSchema).min(1),
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
    /** Timeout for discovery and JWKS requests. */
    httpTimeoutMs: z.number().int().positive().default(5_000),
  })
  .strict()
  .refine((v) => new Set(v.issuers.map((i) => i.issuer)).size === v.issuers.length, { message: 'each issuer may appear once', path: ['issuers'] });

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
      })
      .strict()
      .default({}),
    upstream: z
      .object({
        /** The real cluster's bootstrap servers. */
        bootstrap: z.array(hostPort).min(1),
        connectTimeoutMs: z.number().int().positive().default(10_000),
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
export type UpstreamConfig = GatehouseConfig['upstream'];
