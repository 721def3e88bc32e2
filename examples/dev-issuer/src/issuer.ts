import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClientRegistry, type DevClient } from './clients.js';
import { createDpopProofChecker } from './dpop.js';
import { DevIssuerError } from './errors.js';
import { createClientCredentialsGrant } from './grant.js';
import { writeAnswer } from './http.js';
import { createSigningKeys } from './keys.js';
import { createMetadata } from './metadata.js';
import { resolveOptions, type DevIssuerOptions } from './options.js';
import { createIssuerHandler } from './server.js';
import { createTokenEndpoint } from './token-endpoint.js';
import { createTokenMinter } from './tokens.js';

/**
 * What `DevIssuer.mint()` may ask for: the same `scope` and `resource` parameters `/token` takes,
 * and the DPoP key a proof to `/token` would have bound the token to.
 *
 * @example
 * ```ts
 * const token = await issuer.mint('order-writer', { scope: 'orders:write' });
 * const bound = await issuer.mint('order-writer', { dpopJkt: await calculateJwkThumbprint(jwk) });
 * ```
 */
export interface MintOverrides {
  /** Space-separated, or a list; must be a subset of the client's scopes. Default all of them. */
  readonly scope?: string | readonly string[];
  /** RFC 8707 resource(s); each must be a configured audience. Default the configured audience. */
  readonly resource?: string | readonly string[];
  /**
   * The RFC 7638 SHA-256 thumbprint of a DPoP public key: the token carries it as `cnf.jkt`
   * (RFC 9449 §6.1), so a resource server accepts it only with a proof signed by that key.
   */
  readonly dpopJkt?: string;
}

// A base64url SHA-256 digest: 32 bytes, 43 characters without padding.
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/**
 * A running dev issuer.
 *
 * @example
 * ```ts
 * const issuer = await createDevIssuer();
 * console.log(issuer.issuer, issuer.tokenEndpoint);
 * await issuer.close();
 * ```
 */
export interface DevIssuer {
  /** The `iss` of its tokens (give it to the guard as `issuer`). */
  readonly issuer: string;
  /** The URL it listens on, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  /** The `aud` its tokens carry unless a client asks for a `resource`. */
  readonly audience: string | readonly string[];
  readonly clients: readonly DevClient[];
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
  /**
   * Mints, in process, the access token `/token` would return to this client for this request
   * (no HTTP, no secret). Throws a {@link DevIssuerError} where `/token` would refuse.
   */
  mint(clientId: string, overrides?: MintOverrides): Promise<string>;
}

/**
 * Generates fresh keys and starts the issuer on `host:port`.
 *
 * NOT an authorization server for production: fixed demo secrets, keys that live only in
 * memory, no rate limiting, no audit. It exists for demos and tests.
 *
 * @example
 * ```ts
 * const issuer = await createDevIssuer({ audience: 'https://orders.example/' });
 * const token = await issuer.mint('catalog-reader');
 * const guard = createGuard({ issuer: issuer.issuer, audience: 'https://orders.example/' });
 * ```
 */
export async function createDevIssuer(options: DevIssuerOptions = {}): Promise<DevIssuer> {
  const resolved = resolveOptions(options);
  const registry = createClientRegistry(resolved.clients);
  const keys = await createSigningKeys();

  // The issuer URL contains the port, which is known only once listening (port 0), so the
  // routes are installed right after listen; until then the server answers 503.
  let handler: RequestListener = (_req, res) =>
    writeAnswer(res, { status: 503, body: { error: 'temporarily_unavailable' } });
  const server = createServer({ requestTimeout: 30_000 }, (req, res) => handler(req, res));
  await listen(server, resolved.port, resolved.host);

  const url = `http://${hostForUrl(resolved.host)}:${(server.address() as AddressInfo).port}`;
  const issuer = resolved.issuerUrl ?? url;
  const base = issuer.replace(/\/+$/, '');
  const jwksUri = `${base}/jwks.json`;
  const tokenEndpoint = `${base}/token`;

  const minter = createTokenMinter({
    issuer,
    keys,
    tokenLifetimeSeconds: resolved.tokenLifetimeSeconds,
  });
  const grant = createClientCredentialsGrant({ minter, audience: resolved.audience });
  handler = createIssuerHandler({
    issuerPath: new URL(base).pathname.replace(/\/+$/, ''),
    metadata: createMetadata({ issuer, jwksUri, tokenEndpoint, clients: registry.clients }),
    jwks: keys.jwks,
    tokenEndpoint: createTokenEndpoint({
      registry,
      grant,
      // The proof names the endpoint the client called: the advertised, public one.
      dpop: createDpopProofChecker({ tokenEndpoint }),
    }),
  });

  let closing: Promise<void> | undefined;
  return {
    issuer,
    url,
    jwksUri,
    tokenEndpoint,
    audience: resolved.audience,
    clients: registry.clients,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets (fetch keeps them) would otherwise hold close() open for seconds.
        server.closeAllConnections();
      });
      return closing;
    },
    async mint(clientId, overrides = {}) {
      const client = registry.find(clientId);
      if (client === undefined) throw new DevIssuerError('invalid_client', 'unknown client');
      const { scope, resource, dpopJkt } = overrides;
      if (dpopJkt !== undefined && !(typeof dpopJkt === 'string' && THUMBPRINT.test(dpopJkt))) {
        throw new TypeError('"dpopJkt" must be an RFC 7638 SHA-256 thumbprint (base64url)');
      }
      const result = await grant.issue(client, {
        scope: typeof scope === 'string' || scope === undefined ? scope : scope.join(' '),
        resources: typeof resource === 'string' ? [resource] : resource,
        jkt: dpopJkt,
      });
      if (!result.ok) throw new DevIssuerError(result.error, result.description);
      return result.response.access_token;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

// A wildcard address is not somewhere a client can connect to; loopback on the same family is.
function hostForUrl(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
