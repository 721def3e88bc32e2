import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, X509Certificate } from 'node:crypto';
import { decodeJwt, type JWK } from 'jose';
import type { Adapter, AdapterPayload, ClientMetadata, Configuration } from 'oidc-provider';
import { createDpopProof, type DpopKey } from './dpop.js';
import { createTestKey } from './keys.js';

/**
 * A client registered at the {@link startAuthorizationServer} server.
 *
 * @example
 * ```ts
 * const stepUp: AuthorizationServerClient = {
 *   clientId: 'mfa-app',
 *   clientSecret: 'mfa-secret',
 *   scope: 'read:items payouts:write',
 *   extraClaims: { acr: 'urn:example:mfa', auth_time: Math.floor(Date.now() / 1000) },
 * };
 * ```
 */
export interface AuthorizationServerClient {
  readonly clientId: string;
  /** Authenticates with `client_secret_basic`; without it, `self_signed_tls_client_auth`. */
  readonly clientSecret?: string;
  /** Space-separated scopes the client may request. */
  readonly scope: string;
  /** Top-level claims added to the client's access tokens, e.g. `acr` and `auth_time`. */
  readonly extraClaims?: Record<string, unknown>;
  /** Binds the client's tokens to a certificate (RFC 8705 §3); also its self-signed auth. */
  readonly certificate?: { readonly certPem: string };
}

/**
 * Options of {@link startAuthorizationServer}.
 *
 * @example
 * ```ts
 * const options: AuthorizationServerOptions = {
 *   audience: 'https://api.example/',
 *   clients: [{ clientId: 'svc', clientSecret: 'secret', scope: 'read:items' }],
 *   signingAlgorithm: 'RS256',
 *   accessTokenLifetimeSeconds: 60,
 *   dpopNonces: true,
 * };
 * const as = await startAuthorizationServer(options);
 * ```
 */
export interface AuthorizationServerOptions {
  /** The resource indicator (RFC 8707) that gets JWT access tokens, e.g. `https://api.example/`. */
  readonly audience: string;
  readonly clients: readonly AuthorizationServerClient[];
  /** Access token signature; default ES256. */
  readonly signingAlgorithm?: 'ES256' | 'RS256';
  /** Default 600. */
  readonly accessTokenLifetimeSeconds?: number;
  /** The token endpoint demands a DPoP nonce (RFC 9449 §8). */
  readonly dpopNonces?: boolean;
}

/**
 * A token request made by {@link AuthorizationServer.requestToken}.
 *
 * @example
 * ```ts
 * const dpopKey = await createDpopKey();
 * const request: TokenRequest = { clientId: 'svc', scope: 'read:items', dpopKey };
 * const { accessToken, tokenType } = await as.requestToken(request); // tokenType 'DPoP'
 * ```
 */
export interface TokenRequest {
  readonly clientId: string;
  readonly scope: string;
  /** Default: the server's `audience`. */
  readonly resource?: string;
  /** Asks for a DPoP-bound token (`token_type: 'DPoP'`, `cnf.jkt`). */
  readonly dpopKey?: DpopKey;
  /** The client certificate presented; default: the client's registered one. */
  readonly certificate?: { readonly certPem: string };
}

/**
 * A token endpoint answer.
 *
 * @example
 * ```ts
 * const issued: IssuedToken = await as.requestToken({ clientId: 'svc', scope: 'read', dpopKey });
 * expect(issued.tokenType).toBe('DPoP');
 * expect(issued.claims.cnf).toEqual({ jkt: dpopKey.thumbprint });
 * ```
 */
export interface IssuedToken {
  readonly accessToken: string;
  readonly tokenType: string;
  readonly expiresIn: number;
  /** The access token's payload, decoded without verification, for assertions. */
  readonly claims: Record<string, unknown>;
  /** The nonce the token endpoint demanded with `use_dpop_nonce` before issuing, if it did. */
  readonly dpopNonce?: string;
}

/**
 * A running oidc-provider authorization server on 127.0.0.1.
 *
 * @example
 * ```ts
 * const as: AuthorizationServer = await startAuthorizationServer(options);
 * const guard = createGuard({ issuer: as.issuer, audience: options.audience });
 * // keys found by discovery under as.issuer; as.jwksUri names them directly
 * afterAll(() => as.close());
 * ```
 */
export interface AuthorizationServer {
  /** `http://127.0.0.1:<port>`; discovery is served under it. */
  readonly issuer: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  /** Runs the client credentials grant, retrying once with the nonce on `use_dpop_nonce`. */
  requestToken(input: TokenRequest): Promise<IssuedToken>;
  close(): Promise<void>;
}

// The server speaks plain HTTP, so the client certificate arrives the way a TLS-terminating
// proxy forwards it: URL-encoded PEM in a request header (nginx's $ssl_client_escaped_cert).
// Only acceptable because this is a test fixture reached on loopback by the test itself.
const CLIENT_CERTIFICATE_HEADER = 'x-ssl-client-cert';

type OidcProviderModule = typeof import('oidc-provider');
let providerModule: Promise<OidcProviderModule> | undefined;

// oidc-provider warns once at load that Node 20 is unsupported. It works on the Node >= 20.19
// this project requires (this package's tests run it), so that one line is dropped; every
// other warning still goes through.
function loadOidcProvider(): Promise<OidcProviderModule> {
  providerModule ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
      warn.apply(console, args);
    };
    try {
      return await import('oidc-provider');
    } finally {
      console.warn = warn;
    }
  })();
  return providerModule;
}

// A per-server store: oidc-provider's built-in one warns on every start and is shared by all
// providers of the process. It also serves the clients: static `clients` configuration goes
// through structuredClone, which under Jest yields objects of another realm that oidc-provider's
// plain-object check then refuses ("client JSON Web Key Set is invalid").
function createMemoryAdapter(clients: readonly ClientMetadata[]): (model: string) => Adapter {
  const entries = new Map<string, { payload: AdapterPayload; expiresAtMs: number }>(
    clients.map((payload) => [`Client:${payload.client_id}`, { payload, expiresAtMs: Infinity }]),
  );
  const live = (key: string): AdapterPayload | undefined => {
    const entry = entries.get(key);
    if (entry !== undefined && entry.expiresAtMs <= Date.now()) entries.delete(key);
    return entries.get(key)?.payload;
  };
  const findBy = (predicate: (payload: AdapterPayload) => boolean) =>
    [...entries.keys()].map(live).find((payload) => payload !== undefined && predicate(payload));
  return (model) => ({
    upsert: (id, payload, expiresIn) => {
      const expiresAtMs = expiresIn === undefined ? Infinity : Date.now() + expiresIn * 1000;
      entries.set(`${model}:${id}`, { payload, expiresAtMs });
      return Promise.resolve();
    },
    find: (id) => Promise.resolve(live(`${model}:${id}`)),
    findByUid: (uid) => Promise.resolve(findBy((payload) => payload.uid === uid)),
    findByUserCode: (code) => Promise.resolve(findBy((payload) => payload.userCode === code)),
    consume: (id) => {
      const payload = live(`${model}:${id}`);
      if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
      return Promise.resolve();
    },
    destroy: (id) => Promise.resolve(void entries.delete(`${model}:${id}`)),
    revokeByGrantId: (grantId) => {
      for (const [key, entry] of entries) {
        if (entry.payload.grantId === grantId) entries.delete(key);
      }
      return Promise.resolve();
    },
  });
}

function clientMetadata(client: AuthorizationServerClient): ClientMetadata {
  const selfSigned = client.clientSecret === undefined;
  if (selfSigned && client.certificate === undefined) {
    throw new TypeError(`client "${client.clientId}" needs a clientSecret or a certificate`);
  }
  const certificate = client.certificate && new X509Certificate(client.certificate.certPem);
  return {
    client_id: client.clientId,
    ...(selfSigned ? {} : { client_secret: client.clientSecret }),
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: client.scope,
    token_endpoint_auth_method: selfSigned ? 'self_signed_tls_client_auth' : 'client_secret_basic',
    tls_client_certificate_bound_access_tokens: certificate !== undefined,
    // self_signed_tls_client_auth matches the presented certificate against x5c[0].
    ...(selfSigned && certificate
      ? {
          jwks: {
            keys: [
              {
                ...(certificate.publicKey.export({ format: 'jwk' }) as JWK),
                x5c: [certificate.raw.toString('base64')],
              },
            ],
          },
        }
      : {}),
  };
}

function privateJwk(alg: 'ES256' | 'RS256'): JWK {
  const key = createTestKey(alg, { kid: `as-${alg.toLowerCase()}` });
  return { ...(key.signingKey.export({ format: 'jwk' }) as JWK), kid: key.kid, alg, use: 'sig' };
}

/**
 * Starts a real OAuth 2.0 authorization server (oidc-provider) in-process on 127.0.0.1: the
 * client credentials grant, RFC 8707 resource indicators, RFC 9068 JWT access tokens
 * (`at+jwt`), DPoP-bound (RFC 9449) and certificate-bound (RFC 8705) tokens.
 *
 * @example
 * ```ts
 * const as = await startAuthorizationServer({
 *   audience: 'https://api.example/',
 *   clients: [{ clientId: 'svc', clientSecret: 'secret', scope: 'read:items' }],
 * });
 * const { accessToken } = await as.requestToken({ clientId: 'svc', scope: 'read:items' });
 * await as.close();
 * ```
 */
export async function startAuthorizationServer(
  options: AuthorizationServerOptions,
): Promise<AuthorizationServer> {
  const { Provider, errors } = await loadOidcProvider();
  const clients = new Map(options.clients.map((client) => [client.clientId, client]));
  const scopes = [...new Set(options.clients.flatMap((client) => client.scope.split(' ')))];
  const lifetimeSeconds = options.accessTokenLifetimeSeconds ?? 600;

  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const configuration: Configuration = {
    adapter: createMemoryAdapter(options.clients.map(clientMetadata)),
    jwks: { keys: [privateJwk('ES256'), privateJwk('RS256')] },
    scopes,
    clientAuthMethods: ['client_secret_basic', 'self_signed_tls_client_auth'],
    routes: { token: '/token', jwks: '/jwks' },
    ttl: { ClientCredentials: lifetimeSeconds },
    // Every DPoP algorithm createDpopKey makes, not only oidc-provider's default three.
    enabledJWA: { dPoPSigningAlgValues: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] },
    extraTokenClaims: (_ctx, token) => clients.get(token.clientId ?? '')?.extraClaims,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.audience,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== options.audience) throw new errors.InvalidTarget();
          return {
            scope: scopes.join(' '),
            audience: options.audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: lifetimeSeconds,
            jwt: { sign: { alg: options.signingAlgorithm ?? 'ES256' } },
          };
        },
      },
      dPoP: {
        enabled: true,
        ...(options.dpopNonces ? { nonceSecret: randomBytes(32), requireNonce: () => true } : {}),
      },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        selfSignedTlsClientAuth: true,
        getCertificate: (ctx) => {
          const header = ctx.get(CLIENT_CERTIFICATE_HEADER);
          return header === '' ? undefined : decodeURIComponent(header);
        },
      },
    },
  };
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();
  handle = (req, res) => void callback(req, res);

  const tokenEndpoint = `${issuer}/token`;

  async function requestToken(input: TokenRequest): Promise<IssuedToken> {
    const client = clients.get(input.clientId);
    if (client === undefined) throw new TypeError(`unknown client "${input.clientId}"`);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: input.scope,
      resource: input.resource ?? options.audience,
    });
    if (client.clientSecret === undefined) form.set('client_id', client.clientId);
    else {
      // RFC 6749 §2.3.1: both halves are form-urlencoded before the Basic encoding.
      const pair = `${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    }
    const certificate = input.certificate ?? client.certificate;
    if (certificate) headers[CLIENT_CERTIFICATE_HEADER] = encodeURIComponent(certificate.certPem);

    let nonce: string | undefined;
    for (;;) {
      if (input.dpopKey) {
        headers.dpop = createDpopProof(input.dpopKey, { htm: 'POST', htu: tokenEndpoint, nonce });
      }
      const response = await fetch(tokenEndpoint, { method: 'POST', headers, body: form });
      const body = (await response.json()) as Record<string, unknown>;
      const offered = response.headers.get('dpop-nonce');
      // RFC 9449 §8: the server answers use_dpop_nonce with the nonce to put in a new proof.
      if (body.error === 'use_dpop_nonce' && offered !== null && nonce === undefined) {
        nonce = offered;
        continue;
      }
      if (!response.ok || typeof body.access_token !== 'string') {
        throw new Error(
          `token request failed: ${response.status} ${String(body.error)}: ${String(body.error_description)}`,
        );
      }
      return {
        accessToken: body.access_token,
        tokenType: String(body.token_type),
        expiresIn: Number(body.expires_in),
        claims: decodeJwt(body.access_token),
        ...(nonce === undefined ? {} : { dpopNonce: nonce }),
      };
    }
  }

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint,
    requestToken,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // fetch keeps connections alive; without this close() waits for them to time out.
        server.closeAllConnections();
      }),
  };
}
