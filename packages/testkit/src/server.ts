import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { jwksOf, type TestKey } from './keys.js';

/**
 * A failure the key server can be switched into.
 *
 * @example
 * ```ts
 * const fault: KeyServerFault = { kind: 'slow', delayMs: 6000 };
 * server.setFault(fault);
 * ```
 */
export type KeyServerFault =
  /** The connection is dropped without an answer. */
  | { readonly kind: 'down' }
  /** Answers after a delay. */
  | { readonly kind: 'slow'; readonly delayMs: number }
  /** 200 with a body that is not JSON. */
  | { readonly kind: 'garbage' }
  /** 200 with a body of `bytes` (default 10 MB). */
  | { readonly kind: 'huge'; readonly bytes?: number }
  /** 302 to a path that serves the real key set (a client that follows it is wrong). */
  | { readonly kind: 'redirect' }
  /** Answers with this status and an error body. */
  | { readonly kind: 'status'; readonly status: number };

/**
 * Options of {@link startKeyServer}.
 *
 * @example
 * ```ts
 * const options: KeyServerOptions = {
 *   keys: [keys.ES256],
 *   issuerPath: '/tenant-a',
 *   discovery: 'oauth',
 * };
 * ```
 */
export interface KeyServerOptions {
  /** Keys to publish (public halves), or a raw JWKS document. */
  readonly keys?: readonly TestKey[] | { keys: unknown[] };
  /** Path after the origin that makes the issuer, e.g. `/tenant-a`; default none. */
  readonly issuerPath?: string;
  /** Which metadata documents are served; default `oidc`. */
  readonly discovery?: 'oidc' | 'oauth' | 'both' | 'none';
  /** Members that override the discovery document (e.g. another `issuer`). */
  readonly metadata?: Record<string, unknown>;
  /** Which requests a fault applies to; default both JWKS and metadata. */
  readonly faultScope?: 'all' | 'jwks' | 'metadata';
}

/**
 * A running in-process JWKS and discovery server on 127.0.0.1.
 *
 * @example
 * ```ts
 * server.setKeys([keys.ES256, keys.RS256]);
 * await expect(guard.verify(mint.sign(keys.RS256))).resolves.toBeDefined();
 * ```
 */
export interface KeyServer {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** The issuer identifier the metadata names. */
  readonly issuer: string;
  readonly jwksUri: string;
  /** Publishes another key set (rotation). */
  setKeys(keys: readonly TestKey[] | { keys: unknown[] }): void;
  /** Switches a fault on, or off with `undefined`. */
  setFault(fault: KeyServerFault | undefined): void;
  setMetadata(metadata: Record<string, unknown>): void;
  /** How many requests each path received. */
  readonly hits: { readonly jwks: number; readonly metadata: number; readonly redirected: number };
  resetHits(): void;
  close(): Promise<void>;
}

/**
 * Starts a JWKS + OpenID Connect / RFC 8414 discovery server on 127.0.0.1:0.
 *
 * @example
 * ```ts
 * const server = await startKeyServer({ keys: [keys.ES256] });
 * const guard = createGuard({ issuer: server.issuer, audience: 'api' });
 * server.setFault({ kind: 'down' });
 * await server.close();
 * ```
 */
export async function startKeyServer(options: KeyServerOptions = {}): Promise<KeyServer> {
  let document: { keys: unknown[] } = toDocument(options.keys ?? []);
  let fault: KeyServerFault | undefined;
  let metadataOverride = options.metadata ?? {};
  const discovery = options.discovery ?? 'oidc';
  const faultScope = options.faultScope ?? 'all';
  const issuerPath = (options.issuerPath ?? '').replace(/\/+$/, '');
  const hits = { jwks: 0, metadata: 0, redirected: 0 };
  const sockets = new Set<Socket>();
  let origin = '';

  const send = (
    res: ServerResponse,
    status: number,
    body: string,
    type = 'application/json',
  ): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const serve = (
    req: IncomingMessage,
    res: ServerResponse,
    kind: 'jwks' | 'metadata',
    body: () => string,
  ): void => {
    const applies = fault !== undefined && (faultScope === 'all' || faultScope === kind);
    if (!applies) return send(res, 200, body());
    switch (fault?.kind) {
      case 'down':
        req.socket.destroy();
        return;
      case 'slow': {
        const timer = setTimeout(() => send(res, 200, body()), fault.delayMs);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case 'garbage':
        return send(res, 200, '<html>not json</html>', 'text/html');
      case 'huge': {
        const size = fault.bytes ?? 10 * 1024 * 1024;
        res.writeHead(200, { 'content-type': 'application/json' });
        // Streamed without content-length, so only a running byte count can stop it.
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = (): void => {
          while (sent < size) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => undefined);
        return pump();
      }
      case 'redirect':
        res.writeHead(302, { location: `${origin}/moved${req.url ?? ''}` });
        return void res.end();
      case 'status':
        return send(res, fault.status, '{"error":"server_error"}');
      default:
        return send(res, 200, body());
    }
  };

  const metadata = (): string =>
    JSON.stringify({
      issuer: `${origin}${issuerPath}`,
      jwks_uri: `${origin}${issuerPath}/jwks.json`,
      token_endpoint: `${origin}${issuerPath}/token`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      ...metadataOverride,
    });

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path?.startsWith('/moved/')) {
      hits.redirected++;
      return send(res, 200, JSON.stringify(document));
    }
    if (path === `${issuerPath}/jwks.json`) {
      hits.jwks++;
      return serve(req, res, 'jwks', () => JSON.stringify(document));
    }
    const oidc = path === `${issuerPath}/.well-known/openid-configuration`;
    const oauth = path === `/.well-known/oauth-authorization-server${issuerPath}`;
    if (
      (oidc && (discovery === 'oidc' || discovery === 'both')) ||
      (oauth && (discovery === 'oauth' || discovery === 'both'))
    ) {
      hits.metadata++;
      return serve(req, res, 'metadata', metadata);
    }
    send(res, 404, '{"error":"not_found"}');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    issuer: `${origin}${issuerPath}`,
    jwksUri: `${origin}${issuerPath}/jwks.json`,
    setKeys(keys) {
      document = toDocument(keys);
    },
    setFault(next) {
      fault = next;
    },
    setMetadata(next) {
      metadataOverride = next;
    },
    hits,
    resetHits() {
      hits.jwks = 0;
      hits.metadata = 0;
      hits.redirected = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function toDocument(keys: readonly TestKey[] | { keys: unknown[] }): { keys: unknown[] } {
  return Array.isArray(keys) ? jwksOf(keys as readonly TestKey[]) : (keys as { keys: unknown[] });
}
