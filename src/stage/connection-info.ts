
/** What stages know about a client connection. */
export interface ConnectionInfo {
  /** Unique within this proxy process, e.g. "c42". */
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The listener the client connected to: "bootstrap" or "broker-<nodeId>", prefixed "tls-" on the TLS listener set. */
  readonly listener: string;
  /** Node id of the broker this connection is routed to, or -1 for the bootstrap listener. */
  readonly nodeId: number;
  readonly openedAt: number;
  /** The TLS session (protocol, cipher, verified client certificate) on the TLS listener set; absent on plaintext. */
  readonly tls?: TlsInfo;
  /** Per-connection scratch space for stages (e.g. the authenticated principal). */
  readonly attributes: Map<string | symbol, unknown>;
  /** The limits the proxy holds the connection to (see ConnectionLimits); absent where no proxy made the connection (unit tests). */
  readonly limits?: ConnectionLimits;
}

/**
 * The limits the proxy holds a connection to. When a stage declares that it admits connections
 * (Stage.admitsConnections: the identity stage), every connection starts on the tighter limits
 * for strangers: a small frame limit (limits.maxUnauthenticatedFrameBytes), a deadline
 * (limits.loginTimeoutMs) and a place among the few such connections one address may hold
 * (limits.maxUnauthenticatedConnectionsPerAddress). `admit()` lifts them for good (the identity
 * stage calls it once the client has authenticated). Without such a stage every connection is
 * admitted from the start.
 */
export interface ConnectionLimits {
  readonly admitted: boolean;
  /** The largest request frame taken now. */
  readonly maxFrameBytes: number;
  /** Lifts the limits for strangers: the ordinary frame limit, no deadline, no longer counted against the address. */
  admit(): void;
}

/** What stages know about a TLS connection (absent on plaintext ones). */
export interface TlsInfo {
  /** e.g. "TLSv1.3". */
  readonly protocol: string;
  /** e.g. "TLS_AES_256_GCM_SHA384". */
  readonly cipher: string;
  /** The client certificate's subject (RFC 2253 order, e.g. "CN=app,OU=payments,O=Example"), only when it was verified against listen.tls.caFile. */
  readonly peerSubject?: string;
  /** The client certificate's issuer, same form, when verified. */
  readonly peerIssuer?: string;
  /** SHA-256 fingerprint of the verified client certificate, "AB:CD:…". */
  readonly peerCertFingerprint?: string;
  /** The verified client certificate's serial number (hex). */
  readonly peerSerial?: string;
  /** The verified client certificate's notAfter (ms since epoch). */
  readonly peerValidTo?: number;
}
