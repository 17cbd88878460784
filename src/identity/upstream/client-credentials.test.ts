import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientCredentialsTokens } from './client-credentials.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
});

/** A token endpoint that counts requests and hands out tok-1, tok-2… living `expiresIn` seconds. */
async function endpoint(expiresIn: number): Promise<{ url: string; requests: Array<{ auth: string; body: string }> }> {
  const requests: Array<{ auth: string; body: string }> = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push({ auth: req.headers.authorization ?? '', body });
      if (req.headers.authorization !== `Basic ${Buffer.from('gh:s3cret').toString('base64')}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `tok-${requests.length}`, expires_in: expiresIn, token_type: 'Bearer' }));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/token`, requests };
}

describe('ClientCredentialsTokens', () => {
  it('fetches once, shares the token, and fetches anew after 80 % of its lifetime', async () => {
    const ep = await endpoint(1);
    const tokens = new ClientCredentialsTokens({ tokenEndpoint: ep.url, clientId: 'gh', clientSecret: 's3cret', scope: 'kafka', timeoutMs: 2000 });
    expect(await Promise.all([tokens.token(), tokens.token()])).toEqual(['tok-1', 'tok-1']);
    expect(await tokens.token()).toBe('tok-1');
    expect(ep.requests).toHaveLength(1);
    expect(ep.requests[0]!.body).toBe('grant_type=client_credentials&scope=kafka');
    await new Promise((r) => setTimeout(r, 850));
    expect(await tokens.token()).toBe('tok-2');
  });

  it('reports a refused request without the secret', async () => {
    const ep = await endpoint(60);
    const tokens = new ClientCredentialsTokens({ tokenEndpoint: ep.url, clientId: 'gh', clientSecret: 'wrong-secret', timeoutMs: 2000 });
    const err = await tokens.token().catch((e: Error) => e);
    expect(String(err)).toMatch(/as client "gh" failed: HTTP 401 invalid_client/);
    expect(String(err)).not.toContain('wrong-secret');
  });
});
