/**
 * The proxy's own access token for OAUTHBEARER towards brokers: an OAuth 2.0 client-credentials
 * request (HTTP Basic client authentication, as Kafka's OIDC login handler sends it), cached and
 * fetched anew once 80 % of its lifetime has passed. The secret and the token are never logged.
 */
export interface ClientCredentialsOptions {
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  timeoutMs: number;
}

export class ClientCredentialsTokens {
  private cached: { token: string; refreshAt: number } | null = null;
  private pending: Promise<string> | null = null;

  constructor(private readonly opts: ClientCredentialsOptions) {}

  /** A token valid for a while yet; concurrent callers share one request. */
  async token(): Promise<string> {
    if (this.cached && Date.now() < this.cached.refreshAt) return this.cached.token;
    this.pending ??= this.fetch().finally(() => (this.pending = null));
    return this.pending;
  }

  private async fetch(): Promise<string> {
    const { tokenEndpoint, clientId, clientSecret, scope, timeoutMs } = this.opts;
    const body = new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
    const started = Date.now();
    let res: Response;
    try {
      res = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new Error(`token request to ${tokenEndpoint} failed: ${(err as Error).message}`);
    }
    const json = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (!res.ok || typeof json.access_token !== 'string') {
      const why = [json.error, json.error_description].filter((x) => typeof x === 'string').join(': ');
      throw new Error(`token request to ${tokenEndpoint} as client "${clientId}" failed: HTTP ${res.status}${why ? ` ${why}` : ''}`);
    }
    const lifetimeMs = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in * 1000 : 60_000;
    this.cached = { token: json.access_token, refreshAt: started + lifetimeMs * 0.8 };
    return json.access_token;
  }
}
