// Values test/global-setup.ts hands to every test via `inject(...)`.
declare module 'vitest' {
  export interface ProvidedContext {
    /** "127.0.0.1:port" of the run's shared Kafka broker (PLAINTEXT). */
    kafkaBootstrap: string;
    /** `java -cp` classpath of that broker's Kafka version (server + CLI tools). */
    kafkaClasspath: string;
    /** That broker's Kafka version, e.g. "4.3.1". */
    kafkaVersion: string;
    /** The same broker's SASL_PLAINTEXT listener (PLAIN / SCRAM-SHA-512 for the proxy's account). */
    kafkaSaslBootstrap: string;
  }
}

// Mark this file as a module so the declaration above augments vitest instead of replacing it.
export {};
