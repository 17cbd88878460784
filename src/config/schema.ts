/**
 * The configuration file's shape. Every key has a default except upstream.bootstrap, so the
 * smallest useful file is two lines. Later stages (identity, policy, audit) add their sections.
 */
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port');

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
