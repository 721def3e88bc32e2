import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestCertificate } from './certificates.js';

/**
 * A server a test listens with, on 127.0.0.1 and a free port.
 *
 * @example
 * ```ts
 * const server: LoopbackServer = await listenOnLoopback(http.createServer(app));
 * server.origin; // 'http://127.0.0.1:54321', with server.port 54321
 * afterAll(() => server.close());
 * ```
 */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, or `https://…` for an HTTPS server. */
  readonly origin: string;
  readonly port: number;
  /** Drops open connections and closes the server. */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1:0, so a test reaches the app over real HTTP (or HTTPS), on loopback only.
 *
 * @example
 * ```ts
 * const server = await listenOnLoopback(http.createServer(app));
 * const res = await sendRequest(server.origin, { path: '/me' });
 * await server.close();
 * ```
 */
export async function listenOnLoopback(server: Server | HttpsServer): Promise<LoopbackServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const scheme = server instanceof HttpsServer ? 'https' : 'http';
  return {
    origin: `${scheme}://127.0.0.1:${port}`,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A request as a test sends it.
 *
 * @example
 * ```ts
 * const request: TestRequest = {
 *   method: 'POST',
 *   path: '/orders?dry-run=1',
 *   headers: ['Authorization', `DPoP ${token}`, 'DPoP', proof],
 * };
 * await sendRequest(server.origin, request);
 * ```
 */
export interface TestRequest {
  /** Default `GET`. */
  readonly method?: string;
  /** Path and query. */
  readonly path: string;
  /** Flat `[name, value, name, value, …]`, so a header can be repeated; `Host` is added. */
  readonly headers?: readonly string[];
  /** HTTPS: the CA the server's certificate comes from. */
  readonly ca?: string | undefined;
  /** HTTPS: the client certificate to present (RFC 8705); default none. */
  readonly certificate?: TestCertificate | undefined;
}

/**
 * A response as a test reads it.
 *
 * @example
 * ```ts
 * const response: TestResponse = await sendRequest(server.origin, { path: '/me' });
 * const { status, headers, text } = response;
 * expect(status).toBe(401);
 * expect(headers['www-authenticate']).toBe('Bearer');
 * expect(JSON.parse(text)).toEqual({ code: 'ERR_TOKEN_MISSING' });
 * ```
 */
export interface TestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as text (`''` for HEAD). */
  readonly text: string;
}

/**
 * Sends one request to `origin` (http or https) without keep-alive and reads the whole answer.
 *
 * @example
 * ```ts
 * const res = await sendRequest(server.origin, {
 *   path: '/me',
 *   headers: ['Authorization', `Bearer ${token}`],
 *   ca: ca.certPem,
 *   certificate: client,
 * });
 * expect(res.status).toBe(200);
 * ```
 */
export function sendRequest(origin: string, request: TestRequest): Promise<TestResponse> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const options = {
      host: url.hostname,
      port: url.port,
      method: request.method ?? 'GET',
      path: request.path,
      // A raw array keeps repeated headers; Node then adds no Host of its own.
      headers: ['Host', url.host, ...(request.headers ?? [])],
      agent: false,
    } as const;
    const outgoing =
      url.protocol === 'https:'
        ? httpsRequest({
            ...options,
            ca: request.ca,
            cert: request.certificate?.certPem,
            key: request.certificate?.keyPem,
          })
        : httpRequest(options);
    outgoing.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}
