import { deepStrictEqual } from 'node:assert/strict';
import { createPrivateKey, createSecretKey } from 'node:crypto';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import {
  createLocalhostCertificates,
  createTestCertificate,
  type TestCertificate,
} from './certificates.js';
import { createTestClock, type TestClock } from './clock.js';
import { createDpopKey, createDpopProof, type DpopKey, type DpopProofInput } from './dpop.js';
import { listenOnLoopback, sendRequest } from './http.js';
import {
  ASYMMETRIC_ALGORITHMS,
  createTestKey,
  testKeys,
  type TestAlgorithm,
  type TestKey,
} from './keys.js';
import { startKeyServer, type KeyServer } from './server.js';
import {
  b64url,
  createTokenFactory,
  replaceSegment,
  signBytes,
  signJwt,
  signRaw,
} from './tokens.js';

// One table of requests and exact answers that every adapter must give alike. An adapter
// plugs in through a ConformanceHarness that mounts CONFORMANCE_ROUTES.
//
// Errors are rendered by one tiny app-level handler, the same in every harness:
// renderConformanceError (status = err.status, 500 for anything else; headers = err.headers;
// body = `{ code: err.code }`). The matrix reads the code from that body. The frameworks' own
// default error rendering is each adapter's separate test.

/**
 * What guards a standard route, named after the adapters' functions.
 *
 * @example
 * ```ts
 * const rule: ConformanceRule = { kind: 'anyScope', scopes: ['reports:read', 'admin'] };
 * ```
 */
export type ConformanceRule =
  /** Mounted so that the guard never runs: Express, `app.get()` before `app.use(jwtGuard())`;
   * Koa, a router used before the guard whose handler does not call `next()`; NestJS, `@Public()`. */
  | { readonly kind: 'public' }
  /** The guard only. */
  | { readonly kind: 'authenticated' }
  /** `requireScope(...scopes)`: all of them. */
  | { readonly kind: 'allScopes'; readonly scopes: readonly string[] }
  /** `requireAnyScope(...scopes)`. */
  | { readonly kind: 'anyScope'; readonly scopes: readonly string[] }
  /** `requireClaim(claim, value)`: equals, or an array claim contains it. */
  | { readonly kind: 'claim'; readonly claim: string; readonly value: string }
  /** `requireOneTimeToken()`. */
  | { readonly kind: 'oneTime' }
  /** `requireDpop()`: a DPoP-bound token with a valid proof. */
  | { readonly kind: 'dpop' }
  /** `requireAcr(...values)`: step-up, the token's `acr` is one of them. */
  | { readonly kind: 'acr'; readonly values: readonly string[] }
  /** `requireAuthAge(maxAgeSeconds)`: step-up, `auth_time` at most this long ago. */
  | { readonly kind: 'authAge'; readonly maxAgeSeconds: number };

/**
 * One standard route.
 *
 * @example
 * ```ts
 * const route: ConformanceRoute = {
 *   method: 'GET',
 *   path: '/tenant',
 *   rule: { kind: 'claim', claim: 'tenant', value: 'acme' },
 * };
 * ```
 */
export interface ConformanceRoute {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly rule: ConformanceRule;
}

/**
 * The routes every harness mounts, each answering 200 with {@link conformanceBody}.
 *
 * @example
 * ```ts
 * for (const route of CONFORMANCE_ROUTES) router[route.method.toLowerCase()](route.path, ...);
 * ```
 */
export const CONFORMANCE_ROUTES: readonly ConformanceRoute[] = [
  { method: 'GET', path: '/health', rule: { kind: 'public' } },
  { method: 'GET', path: '/me', rule: { kind: 'authenticated' } },
  { method: 'GET', path: '/items', rule: { kind: 'allScopes', scopes: ['read:items'] } },
  { method: 'POST', path: '/items', rule: { kind: 'allScopes', scopes: ['write:items'] } },
  {
    method: 'DELETE',
    path: '/items',
    rule: { kind: 'allScopes', scopes: ['admin', 'write:items'] },
  },
  {
    method: 'GET',
    path: '/reports',
    rule: { kind: 'anyScope', scopes: ['reports:read', 'admin'] },
  },
  { method: 'GET', path: '/tenant', rule: { kind: 'claim', claim: 'tenant', value: 'acme' } },
  { method: 'GET', path: '/staff', rule: { kind: 'claim', claim: 'roles', value: 'staff' } },
  { method: 'POST', path: '/once', rule: { kind: 'oneTime' } },
  { method: 'GET', path: '/dpop', rule: { kind: 'dpop' } },
  {
    method: 'GET',
    path: '/mfa',
    rule: { kind: 'acr', values: ['urn:example:mfa', 'urn:example:hwk'] },
  },
  { method: 'GET', path: '/recent', rule: { kind: 'authAge', maxAgeSeconds: 300 } },
];

/**
 * The TLS side of a row served over HTTPS, as `node:https` takes it: the server certificate
 * for 127.0.0.1, and a client certificate asked for but not verified (RFC 8705 §3: the guard,
 * not the TLS stack, decides, by the token's `cnf`). `ca` is the test CA, for the client.
 *
 * @example
 * ```ts
 * createServer(options, tls?: ConformanceTls) {
 *   const app = express();
 *   const server = tls === undefined ? http.createServer(app) : https.createServer(tls, app);
 *   return Promise.resolve(server);
 * }
 * ```
 */
export interface ConformanceTls {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  readonly requestCert: true;
  readonly rejectUnauthorized: false;
}

/**
 * One adapter under test.
 *
 * @example
 * ```ts
 * const harness: ConformanceHarness = {
 *   name: 'express',
 *   async createServer(options) {
 *     const app = express();
 *     // … CONFORMANCE_ROUTES, guarded by jwtGuard(options as GuardOptions) …
 *     return tls === undefined ? http.createServer(app) : https.createServer(tls, app);
 *   },
 * };
 * ```
 */
export interface ConformanceHarness {
  readonly name: string;
  /**
   * An app with {@link CONFORMANCE_ROUTES} guarded with these guard options, as a server that is
   * not listening yet; the runner listens on 127.0.0.1:0 and closes it. With `tls`, an HTTPS
   * server with those options, the way the framework serves HTTPS.
   */
  createServer(
    options: Record<string, unknown>,
    tls?: ConformanceTls,
  ): Promise<Server | HttpsServer>;
}

/**
 * The 200 body of every standard route.
 *
 * @example
 * ```ts
 * res.json(conformanceBody(req.auth));
 * ```
 */
export function conformanceBody(
  auth: { readonly subject: string | undefined; readonly scopes: readonly string[] } | undefined,
): { sub: string | undefined; scopes: readonly string[] } | { anonymous: true } {
  return auth === undefined ? { anonymous: true } : { sub: auth.subject, scopes: auth.scopes };
}

/**
 * What the matrix's app-level error handler answers: `err.status` (500 for errors without a
 * numeric status), `err.headers`, and `{ code: err.code }`.
 *
 * @example
 * ```ts
 * app.use((err, _req, res, next) => {
 *   if (res.headersSent) return next(err);
 *   const { status, headers, body } = renderConformanceError(err);
 *   res.status(status).set(headers).json(body);
 * });
 * ```
 */
export function renderConformanceError(error: unknown): {
  status: number;
  headers: Record<string, string>;
  body: { code?: string };
} {
  const { status, headers, code } = (error ?? {}) as {
    status?: unknown;
    headers?: unknown;
    code?: unknown;
  };
  return {
    status: typeof status === 'number' ? status : 500,
    headers:
      typeof headers === 'object' && headers !== null
        ? { ...(headers as Record<string, string>) }
        : {},
    body: typeof code === 'string' ? { code } : {},
  };
}

/**
 * The part of a TokenStore the matrix uses (structural: the testkit does not depend on core).
 *
 * @example
 * ```ts
 * const store: ConformanceStore = createMemoryStore({ clock });
 * ```
 */
export interface ConformanceStore {
  revokeToken(revocation: { readonly jti: string; readonly expiresAt: number }): Promise<void>;
}

/**
 * Options of {@link createConformanceEnv}.
 *
 * @example
 * ```ts
 * const options: ConformanceEnvOptions = { createStore: (clock) => createMemoryStore({ clock }) };
 * ```
 */
export interface ConformanceEnvOptions {
  /** The store the revocation rows use, e.g. `(clock) => createMemoryStore({ clock })`. */
  readonly createStore: (clock: TestClock) => ConformanceStore;
}

/**
 * The certificates of the mTLS rows: a CA, the server's, and two clients'.
 *
 * @example
 * ```ts
 * const { ca, client }: ConformanceCertificates = env.certificates; // after env.start()
 * const bound = env.token({ cnf: { 'x5t#S256': client.thumbprintS256 } });
 * const headers = ['Authorization', `Bearer ${bound}`];
 * await sendRequest(origin, { path: '/me', headers, ca: ca.certPem, certificate: client });
 * ```
 */
export interface ConformanceCertificates {
  readonly ca: TestCertificate;
  readonly server: TestCertificate;
  readonly client: TestCertificate;
  readonly other: TestCertificate;
}

/**
 * What the rows need: a key server publishing every asymmetric algorithm's key (found by
 * discovery), a second one that is down, a frozen clock, a store and a token factory, DPoP keys
 * and TLS certificates. Made synchronously, so `conformanceCases(env)` can feed `it.each`;
 * `start()` in `beforeAll`.
 *
 * @example
 * ```ts
 * const guard = createGuard(env.options({ realm: 'items-api' }) as GuardOptions);
 * await guard.verify(env.token({ scope: 'read:items' }));
 * ```
 */
export interface ConformanceEnv {
  readonly clock: TestClock;
  readonly audience: string;
  /**
   * The public origin the DPoP rows configure (`dpop.origin`) and their proofs name in `htu`,
   * as behind a TLS-terminating proxy: never the `Host` the requests carry.
   */
  readonly publicOrigin: string;
  /** The shared store; guard options of the revocation rows carry this very object. */
  readonly store: ConformanceStore;
  /** The issuer whose keys are served. Only after `start()`. */
  readonly issuer: string;
  /** An issuer whose discovery and JWKS endpoints drop every connection. Only after `start()`. */
  readonly downIssuer: string;
  /** Guard options: the env's issuer, audience and clock, with `extra` over them. */
  options(extra?: Record<string, unknown>): Record<string, unknown>;
  /** A valid access token of the env's issuer with `claims` over the defaults (`undefined` removes one). */
  token(claims?: Record<string, unknown>, key?: TestKey): string;
  /** Two clients' DPoP keys: ES256 and EdDSA. Only after `start()`. */
  readonly dpopKeys: readonly [DpopKey, DpopKey];
  /** Only after `start()`. */
  readonly certificates: ConformanceCertificates;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Creates the environment of the conformance matrix.
 *
 * @example
 * ```ts
 * const env = createConformanceEnv({ createStore: (clock) => createMemoryStore({ clock }) });
 * beforeAll(() => env.start());
 * afterAll(() => env.close());
 * it.each(conformanceCases(env))('$name', (row) => runConformanceCase(harness, row));
 * ```
 */
export function createConformanceEnv(options: ConformanceEnvOptions): ConformanceEnv {
  const clock = createTestClock();
  const keys = testKeys();
  const audience = 'https://api.example/';
  const store = options.createStore(clock);
  let live: KeyServer | undefined;
  let down: KeyServer | undefined;
  let dpopKeys: readonly [DpopKey, DpopKey] | undefined;
  let certificates: ConformanceCertificates | undefined;
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('conformance env: call start() first (beforeAll)');
    return value;
  };
  return {
    clock,
    audience,
    publicOrigin: 'https://api.example',
    store,
    get issuer() {
      return started(live).issuer;
    },
    get downIssuer() {
      return started(down).issuer;
    },
    options: (extra = {}) => ({ issuer: started(live).issuer, audience, clock, ...extra }),
    token: (claims = {}, key = keys.ES256) =>
      createTokenFactory({ issuer: started(live).issuer, audience, clock }).sign(key, claims),
    get dpopKeys() {
      return started(dpopKeys);
    },
    get certificates() {
      return started(certificates);
    },
    async start() {
      live = await startKeyServer({ keys: ASYMMETRIC_ALGORITHMS.map((alg) => keys[alg]) });
      down = await startKeyServer({ keys: [keys.ES256] });
      down.setFault({ kind: 'down' });
      dpopKeys = [await createDpopKey('ES256'), await createDpopKey('EdDSA')];
      const { ca, server } = await createLocalhostCertificates();
      const [client, other] = await Promise.all([
        createTestCertificate({ commonName: 'conformance-client' }),
        createTestCertificate({ commonName: 'conformance-other-client' }),
      ]);
      certificates = { ca, server, client, other };
    },
    async close() {
      await Promise.all([live?.close(), down?.close()]);
    },
  };
}

/**
 * A request as sent: raw header pairs, so a header can be repeated.
 *
 * @example
 * ```ts
 * const request: ConformanceRequest = {
 *   method: 'GET',
 *   path: '/me',
 *   headers: ['Authorization', `Bearer ${a}`, 'Authorization', `Bearer ${b}`],
 * };
 * ```
 */
export interface ConformanceRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  /** Flat `[name, value, name, value, …]`, like Node's `rawHeaders`; `Host` is added. */
  readonly headers: readonly string[];
  /** On a row over TLS: the client certificate the connection presents (default none). */
  readonly certificate?: TestCertificate | undefined;
}

/**
 * Where a row's request goes, known only once the server listens: rows that prove a
 * same-origin check need the server's own origin.
 *
 * @example
 * ```ts
 * const request = (target: ConformanceTarget) => req('POST', '/items', 'Origin', target.origin);
 * ```
 */
export interface ConformanceTarget {
  /** `http(s)://127.0.0.1:<port>`, the origin whose host the requests' `Host` header names. */
  readonly origin: string;
  /** The `DPoP-Nonce` of the row's previous answer, for a retry that carries it (RFC 9449 §8). */
  readonly dpopNonce: string | undefined;
}

/**
 * The exact answer: a 200 with its body, or a refusal with its code and challenge. Either
 * carries a `DPoP-Nonce` header exactly when `dpopNonce` is true.
 *
 * @example
 * ```ts
 * const expired: ConformanceExpectation = {
 *   status: 401,
 *   code: 'ERR_TOKEN_EXPIRED',
 *   challenge: 'Bearer error="invalid_token", error_description="The access token expired"',
 * };
 * ```
 */
export type ConformanceExpectation =
  | { readonly status: 200; readonly body: unknown; readonly dpopNonce?: boolean }
  | {
      readonly status: number;
      readonly code: string;
      /** The exact `WWW-Authenticate` value, or `null` when the header must be absent. */
      readonly challenge: string | null;
      readonly dpopNonce?: boolean;
    };

/**
 * One request of a row and its answer. Tokens are minted when the row runs.
 *
 * @example
 * ```ts
 * const step: ConformanceStep = {
 *   request: () => ({ method: 'GET', path: '/health', headers: [] }),
 *   expect: { status: 200, body: { anonymous: true } },
 * };
 * ```
 */
export interface ConformanceStep {
  readonly request: (target: ConformanceTarget) => ConformanceRequest;
  readonly expect: ConformanceExpectation;
}

/**
 * One row of the matrix: guard options, optional preparation, one or more requests.
 *
 * @example
 * ```ts
 * const row: ConformanceCase = {
 *   name: 'a revoked token → 401 ERR_TOKEN_REVOKED',
 *   options: () => env.options({ store: env.store }),
 *   before: () =>
 *     env.store.revokeToken({ jti: 'j-1', expiresAt: env.clock.nowSeconds() + 900 }),
 *   steps: [{ request: () => me(env.token({ jti: 'j-1' })), expect: revoked }],
 * };
 * ```
 */
export interface ConformanceCase {
  readonly name: string;
  readonly options: () => Record<string, unknown>;
  /** Served over HTTPS with these TLS options (the mTLS rows); plain HTTP without. */
  readonly tls?: () => ConformanceTls;
  /** Runs after the server was created, before the first request (e.g. a revocation). */
  readonly before?: () => Promise<void>;
  readonly steps: readonly ConformanceStep[];
}

// The answers the contract fixes (DESIGN "Errors", RFC 6750 §3), spelled out here rather
// than read from core's catalog, so a drift in core fails the matrix instead of moving with it.
// `attributes: null` is a refusal without any challenge (RFC 6750 §3 only challenges
// authentication problems: not a CSRF refusal, not an outage).
const REFUSALS: Readonly<
  Record<string, { status: number; attributes: string | undefined | null }>
> = {
  // RFC 6750 §3.1: no error attribute when the request carried no credentials.
  ERR_TOKEN_MISSING: { status: 401, attributes: undefined },
  ERR_AUTHORIZATION_MALFORMED: {
    status: 400,
    attributes: invalidRequest('The Authorization header is malformed'),
  },
  ERR_MULTIPLE_AUTHORIZATION: {
    status: 400,
    attributes: invalidRequest('More than one Authorization header was sent'),
  },
  ERR_MULTIPLE_TOKENS: {
    status: 400,
    attributes: invalidRequest('The access token was sent by more than one method'),
  },
  ERR_CROSS_SITE_REQUEST: { status: 403, attributes: null },
  ERR_TOKEN_TOO_LARGE: { status: 401, attributes: invalidToken('The access token is too large') },
  ERR_TOKEN_MALFORMED: { status: 401, attributes: invalidToken('The access token is malformed') },
  ERR_HEADER_INVALID: {
    status: 401,
    attributes: invalidToken('The access token header is not acceptable'),
  },
  ERR_TYPE_INVALID: {
    status: 401,
    attributes: invalidToken('The access token has the wrong type'),
  },
  ERR_ALGORITHM_NOT_ALLOWED: {
    status: 401,
    attributes: invalidToken('The access token algorithm is not allowed'),
  },
  ERR_KEY_NOT_FOUND: {
    status: 401,
    attributes: invalidToken('No key is known for the access token'),
  },
  ERR_SIGNATURE_INVALID: {
    status: 401,
    attributes: invalidToken('The access token signature is invalid'),
  },
  ERR_ISSUER_INVALID: {
    status: 401,
    attributes: invalidToken('The access token issuer is not accepted'),
  },
  ERR_AUDIENCE_INVALID: {
    status: 401,
    attributes: invalidToken('The access token audience is not accepted'),
  },
  ERR_TOKEN_EXPIRED: { status: 401, attributes: invalidToken('The access token expired') },
  ERR_TOKEN_NOT_YET_VALID: {
    status: 401,
    attributes: invalidToken('The access token is not valid yet'),
  },
  ERR_TOKEN_TOO_OLD: { status: 401, attributes: invalidToken('The access token is too old') },
  ERR_LIFETIME_EXCEEDED: {
    status: 401,
    attributes: invalidToken('The access token lifetime is too long'),
  },
  ERR_CLAIM_MISSING: {
    status: 401,
    attributes: invalidToken('The access token lacks a required claim'),
  },
  ERR_CLAIM_INVALID: {
    status: 401,
    attributes: invalidToken('The access token has an invalid claim'),
  },
  ERR_TOKEN_REVOKED: { status: 401, attributes: invalidToken('The access token was revoked') },
  ERR_TOKEN_REPLAYED: {
    status: 401,
    attributes: invalidToken('The access token was already used'),
  },
  ERR_SCOPE_INSUFFICIENT: {
    status: 403,
    attributes: insufficientScope('The access token lacks a required scope'),
  },
  ERR_CLAIM_MISMATCH: {
    status: 403,
    attributes: insufficientScope(
      'The access token does not meet the requirements of this resource',
    ),
  },
  ERR_KEYS_UNAVAILABLE: { status: 503, attributes: null },
  ERR_STORE_UNAVAILABLE: { status: 503, attributes: null },
  // RFC 9449 §7.1: the DPoP scheme's own error codes.
  ERR_DPOP_PROOF_MISSING: {
    status: 401,
    attributes: invalidDpopProof('A DPoP proof is required with a DPoP access token'),
  },
  ERR_DPOP_PROOF_INVALID: {
    status: 401,
    attributes: invalidDpopProof('The DPoP proof is invalid'),
  },
  ERR_DPOP_PROOF_REPLAYED: {
    status: 401,
    attributes: invalidDpopProof('The DPoP proof was already used'),
  },
  // RFC 9449 §8.
  ERR_DPOP_NONCE_REQUIRED: {
    status: 401,
    attributes:
      'error="use_dpop_nonce", error_description="The DPoP proof must carry the nonce the server provided"',
  },
  // RFC 9449 §7.2 and §4.3 check 12: the token and the proof are not of one key.
  ERR_DPOP_BINDING_MISMATCH: {
    status: 401,
    attributes: invalidToken('The access token is not bound to the key of the DPoP proof'),
  },
  ERR_DPOP_REQUIRED: {
    status: 401,
    attributes: invalidToken('This resource requires a DPoP-bound access token'),
  },
  // RFC 8705 §3: the token is bound to another certificate than the connection's, or to one
  // the connection did not present.
  ERR_CERTIFICATE_BINDING_MISMATCH: {
    status: 401,
    attributes: invalidToken('The access token is bound to another client certificate'),
  },
  // RFC 9470 §3.
  ERR_AUTHENTICATION_INSUFFICIENT: {
    status: 401,
    attributes:
      'error="insufficient_user_authentication", error_description="A stronger or more recent user authentication is required"',
  },
};

function invalidRequest(description: string): string {
  return `error="invalid_request", error_description="${description}"`;
}

function invalidToken(description: string): string {
  return `error="invalid_token", error_description="${description}"`;
}

function insufficientScope(description: string): string {
  return `error="insufficient_scope", error_description="${description}"`;
}

function invalidDpopProof(description: string): string {
  return `error="invalid_dpop_proof", error_description="${description}"`;
}

/** The proof algorithms the DPoP rows configure, and so the `algs` of their challenges. */
const DPOP_ALGS = ['ES256', 'EdDSA'] as const;

/** What a refusal's challenge carries besides its code's error and description. */
interface RefusalExtras {
  /** The route's scopes (`insufficient_scope`). */
  readonly scope?: string;
  /** The configured realm. */
  readonly realm?: string;
  /** RFC 9470 §3 step-up: the route's acceptable `acr` values, space-separated. */
  readonly acrValues?: string;
  /** RFC 9470 §3 step-up: the route's maximum authentication age. */
  readonly maxAge?: number;
  /**
   * The guard accepts DPoP (RFC 9449 §7.1): the `DPoP` challenge with `algs` comes too, and
   * `scheme` is the one that carries the error (first); `bearer: false` where no `Bearer`
   * challenge is offered (DPoP required).
   */
  readonly dpop?: { readonly scheme: 'Bearer' | 'DPoP'; readonly bearer?: false };
}

/** `Scheme attr, attr` (RFC 9110 §11.6.1), or the bare scheme. */
function challengeOf(scheme: string, attributes: readonly string[]): string {
  return attributes.length === 0 ? scheme : `${scheme} ${attributes.join(', ')}`;
}

/** The expected refusal for a code, with its challenge spelled out from `extra`. */
function refused(code: string, extra: RefusalExtras = {}): ConformanceExpectation {
  const entry = REFUSALS[code];
  if (entry === undefined) throw new Error(`conformance: no expected answer for ${code}`);
  if (entry.attributes === null) return { status: entry.status, code, challenge: null };
  const realm = extra.realm === undefined ? [] : [`realm="${extra.realm}"`];
  const error = [
    entry.attributes,
    extra.scope === undefined ? undefined : `scope="${extra.scope}"`,
    extra.acrValues === undefined ? undefined : `acr_values="${extra.acrValues}"`,
    extra.maxAge === undefined ? undefined : `max_age="${extra.maxAge}"`,
  ].filter((part) => part !== undefined);
  const { dpop } = extra;
  if (dpop === undefined) {
    return { status: entry.status, code, challenge: challengeOf('Bearer', [...realm, ...error]) };
  }
  const dpopChallenge = challengeOf('DPoP', [
    ...realm,
    ...(dpop.scheme === 'DPoP' ? error : []),
    `algs="${DPOP_ALGS.join(' ')}"`,
  ]);
  const bearerChallenge = challengeOf('Bearer', [
    ...realm,
    ...(dpop.scheme === 'Bearer' ? error : []),
  ]);
  const challenges =
    dpop.bearer === false
      ? [dpopChallenge]
      : dpop.scheme === 'DPoP'
        ? [dpopChallenge, bearerChallenge]
        : [bearerChallenge, dpopChallenge];
  return { status: entry.status, code, challenge: challenges.join(', ') };
}

/** 200 for the factory's default subject, with the token's scopes. */
function ok(scopes: readonly string[] = []): ConformanceExpectation {
  return { status: 200, body: { sub: 'user-1', scopes } };
}

const ANONYMOUS: ConformanceExpectation = { status: 200, body: { anonymous: true } };

function bearer(token: string): string[] {
  return ['Authorization', `Bearer ${token}`];
}

function req(
  method: ConformanceRequest['method'],
  path: string,
  ...headers: string[]
): ConformanceRequest {
  return { method, path, headers };
}

/** GET /me with a bearer token minted when the row runs (default: a valid one of the env). */
function getMe(
  env: ConformanceEnv,
  mint: () => string = () => env.token(),
): () => ConformanceRequest {
  return () => req('GET', '/me', ...bearer(mint()));
}

/** Memoizes a token so that several requests of one row send the very same string. */
function once(mint: () => string): () => string {
  let token: string | undefined;
  return () => (token ??= mint());
}

/**
 * Every row of the matrix: valid tokens for each algorithm (HS* with a configured secret),
 * each rejection class with its exact status, code and `WWW-Authenticate` (header, type and
 * shape checks, time and lifetime limits, key and store outages), per-route requirements,
 * token locations and the cookie mode's same-origin proof, optional auth, realm, revocation,
 * one-time tokens, DPoP (proofs, replay, nonces, required mode), step-up (`acr`, auth age) and
 * mTLS certificate-bound tokens (over TLS, and behind a proxy's certificate header).
 *
 * @example
 * ```ts
 * it.each(conformanceCases(env))('$name', (row) => runConformanceCase(harness, row));
 * ```
 */
export function conformanceCases(env: ConformanceEnv): ConformanceCase[] {
  const keys = testKeys();
  const now = env.clock.nowSeconds();
  const base = (): Record<string, unknown> => env.options();
  const row = (
    name: string,
    request: (target: ConformanceTarget) => ConformanceRequest,
    expect: ConformanceExpectation,
    options: () => Record<string, unknown> = base,
  ): ConformanceCase => ({ name, options, steps: [{ request, expect }] });
  const me = (token: () => string) => () => req('GET', '/me', ...bearer(token()));
  const withScope =
    (path: string, scope: unknown, method: ConformanceRequest['method'] = 'GET') =>
    () =>
      req(method, path, ...bearer(env.token({ scope })));
  const withClaims = (path: string, claims: Record<string, unknown>) => () =>
    req('GET', path, ...bearer(env.token(claims)));
  const cookieMode = () => env.options({ tokenLocations: ['cookie'], cookie: { name: 'at' } });
  const cookieModeFor = (allowedOrigins: readonly string[]) => () =>
    env.options({ tokenLocations: ['cookie'], cookie: { name: 'at', allowedOrigins } });
  const cookie = (token: string): string[] => ['Cookie', `theme=dark; at=${token}`];
  const writeWithCookie = (...headers: string[]) =>
    req('POST', '/items', ...cookie(env.token({ scope: 'write:items' })), ...headers);
  // The default claims signed with the ES256 key under header members over the defaults, so
  // that only the header decides the answer.
  const withHeader = (header: Record<string, unknown>) =>
    me(() => signJwt(keys.ES256, claimsOf(env.token()), { header }));
  // A payload JSON text signed as written (arrays, `null`, duplicates, numbers JSON.stringify
  // cannot write) with the ES256 key under the default header, so only the text decides.
  const withPayload = (text: () => string) => me(() => signJwt(keys.ES256, text()));
  const payloadText = (claims: Record<string, unknown> = {}) =>
    JSON.stringify(claimsOf(env.token(claims)));
  // A key the issuer never published, as an attacker holds one.
  const attacker = createTestKey('ES256', { kid: 'conformance-attacker' });
  const byAttacker = (header: Record<string, unknown>) =>
    me(() => signJwt(attacker, claimsOf(env.token()), { header }));
  const strictMode = () => env.options({ strict: true });
  // ECDSA signatures are random: a few tries give one that spells differently in base64 and
  // base64url (one in 15 has neither "-" nor "_").
  const signatureWithDashOrUnderscore = (): string => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const token = env.token();
      if (/[-_]/.test(token.split('.')[2] ?? '')) return token;
    }
    throw new Error('conformance: no ES256 signature with "-" or "_" in 100 tries');
  };

  return [
    ...ASYMMETRIC_ALGORITHMS.map((alg) =>
      row(
        `valid ${alg} token → 200`,
        me(() => env.token({}, keys[alg])),
        ok(),
      ),
    ),
    ...hmacRows(env, row, me),
    // RFC 9110 §11.1: the scheme is case-insensitive.
    row(
      'scheme in lower case → 200',
      () => req('GET', '/me', 'Authorization', `bearer ${env.token()}`),
      ok(),
    ),
    row('/health without a token → 200 (public route)', () => req('GET', '/health'), ANONYMOUS),
    row(
      '/health with a bad token → 200 (the guard does not run)',
      () => req('GET', '/health', ...bearer('abc.def')),
      ANONYMOUS,
    ),

    row(
      'no token → 401 Bearer without error',
      () => req('GET', '/me'),
      refused('ERR_TOKEN_MISSING'),
    ),
    row(
      'Basic scheme → 401 Bearer without error (no bearer credential)',
      () => req('GET', '/me', 'Authorization', 'Basic dXNlcjpwYXNz'),
      refused('ERR_TOKEN_MISSING'),
    ),
    row(
      '"Bearer" without a token → 400 invalid_request',
      () => req('GET', '/me', 'Authorization', 'Bearer'),
      refused('ERR_AUTHORIZATION_MALFORMED'),
    ),
    // Node's parsed headers keep only the first: a proxy and the app could each read another.
    row(
      'two Authorization headers → 400',
      () => req('GET', '/me', ...bearer(env.token()), ...bearer(env.token())),
      refused('ERR_MULTIPLE_AUTHORIZATION'),
    ),

    row(
      'expired → 401',
      me(() => env.token({ iat: now - 960, exp: now - 60 })),
      refused('ERR_TOKEN_EXPIRED'),
    ),
    row(
      'nbf in the future → 401',
      me(() => env.token({ nbf: now + 60 })),
      refused('ERR_TOKEN_NOT_YET_VALID'),
    ),
    // DESIGN: a lifetime cap applies by default (24 h), and can be lowered.
    row(
      'lifetime over the default 24 h cap → 401',
      me(() => env.token({ exp: now + 86_400 + 60 })),
      refused('ERR_LIFETIME_EXCEEDED'),
    ),
    row(
      'lifetime over maxLifetimeSeconds → 401',
      me(() => env.token({ exp: now + 900 })),
      refused('ERR_LIFETIME_EXCEEDED'),
      () => env.options({ maxLifetimeSeconds: 600 }),
    ),
    // A far-future exp is still bounded by the lifetime cap, measured from iat.
    row(
      'exp 1e308 (far future) → 401 lifetime',
      me(() => env.token({ exp: 1e308 })),
      refused('ERR_LIFETIME_EXCEEDED'),
    ),
    // RFC 7519 §2: a NumericDate is a JSON number, and a finite one.
    row(
      'exp as a string → 401',
      me(() => env.token({ exp: String(now + 900) })),
      refused('ERR_CLAIM_INVALID'),
    ),
    row(
      'exp 1e400 (Infinity once parsed) → 401',
      withPayload(() => payloadText().replace(/"exp":\d+/, '"exp":1e400')),
      refused('ERR_CLAIM_INVALID'),
    ),
    // The default clock tolerance is 5 s, as for exp and nbf.
    row(
      'iat 5 s in the future, within the clock tolerance → 200',
      me(() => env.token({ iat: now + 5 })),
      ok(),
    ),
    row(
      'iat 6 s in the future → 401',
      me(() => env.token({ iat: now + 6 })),
      refused('ERR_TOKEN_NOT_YET_VALID'),
    ),
    // RFC 9068 §2.2: exp, iat and sub are required.
    row(
      'no exp → 401',
      me(() => env.token({ exp: undefined })),
      refused('ERR_CLAIM_MISSING'),
    ),
    row(
      'no iat → 401',
      me(() => env.token({ iat: undefined })),
      refused('ERR_CLAIM_MISSING'),
    ),
    row(
      'no sub → 401',
      me(() => env.token({ sub: undefined })),
      refused('ERR_CLAIM_MISSING'),
    ),
    row(
      'sub as a number → 401',
      me(() => env.token({ sub: 42 })),
      refused('ERR_CLAIM_INVALID'),
    ),
    row(
      'issued within maxTokenAgeSeconds → 200',
      me(() => env.token({ iat: now - 200, exp: now + 600 })),
      ok(),
      () => env.options({ maxTokenAgeSeconds: 300 }),
    ),
    row(
      'issued before maxTokenAgeSeconds → 401 too old',
      me(() => env.token({ iat: now - 600, exp: now + 300 })),
      refused('ERR_TOKEN_TOO_OLD'),
      () => env.options({ maxTokenAgeSeconds: 300 }),
    ),
    row(
      'wrong audience → 401',
      me(() => env.token({ aud: 'https://other-api.example/' })),
      refused('ERR_AUDIENCE_INVALID'),
    ),
    row(
      'wrong issuer signed with a trusted key → 401',
      me(() => env.token({ iss: 'https://evil.example/' })),
      refused('ERR_ISSUER_INVALID'),
    ),
    // DESIGN: iss matches exactly, never "any element of an attacker's array".
    row(
      'iss as an array holding the issuer → 401',
      me(() => env.token({ iss: [env.issuer, 'https://evil.example/'] })),
      refused('ERR_ISSUER_INVALID'),
    ),
    // CVE-2015-9235 class: an unsecured JWS is never parsed as a token.
    row(
      'alg none with an empty signature → 401',
      me(() =>
        signRaw(
          JSON.stringify({ alg: 'none', typ: 'at+jwt' }),
          JSON.stringify(claimsOf(env.token())),
          { alg: 'none' },
        ),
      ),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    row(
      'alg none with a signature → 401',
      me(() =>
        signJwt(keys.ES256, claimsOf(env.token()), { header: { alg: 'none' }, signAs: 'ES256' }),
      ),
      refused('ERR_ALGORITHM_NOT_ALLOWED'),
    ),
    // Algorithm names are case-sensitive (RFC 7515 §4.1.1): no casing of "none" is a way in.
    ...['None', 'NONE', 'nOnE'].flatMap((alg) => [
      row(
        `alg ${alg} with an empty signature → 401`,
        me(() => signRaw(JSON.stringify({ alg, typ: 'at+jwt' }), payloadText(), { alg: 'none' })),
        refused('ERR_TOKEN_MALFORMED'),
      ),
      row(
        `alg ${alg} with a signature → 401`,
        me(() => signJwt(keys.ES256, claimsOf(env.token()), { header: { alg }, signAs: 'ES256' })),
        refused('ERR_ALGORITHM_NOT_ALLOWED'),
      ),
    ]),
    // CVE-2016-10555 class: the RSA public key (PEM) used as an HMAC secret.
    row(
      'HS256 signed with the public key → 401',
      me(() =>
        signJwt(keys.RS256, claimsOf(env.token()), {
          header: { alg: 'HS256' },
          signingKey: createSecretKey(Buffer.from(keys.RS256.publicPem as string)),
        }),
      ),
      refused('ERR_ALGORITHM_NOT_ALLOWED'),
    ),
    row(
      'tampered payload → 401',
      me(() => {
        const token = env.token({ scope: 'read:items' });
        return replaceSegment(
          token,
          1,
          b64url(JSON.stringify({ ...claimsOf(token), scope: 'admin' })),
        );
      }),
      refused('ERR_SIGNATURE_INVALID'),
    ),
    row(
      'signature of another key under a known kid → 401',
      me(() => {
        const impostor = createTestKey('ES256', { kid: keys.ES256.kid });
        return env.token({}, impostor);
      }),
      refused('ERR_SIGNATURE_INVALID'),
    ),
    row(
      'unknown kid → 401',
      me(() => env.token({}, createTestKey('ES256', { kid: 'conformance-unknown-kid' }))),
      refused('ERR_KEY_NOT_FOUND'),
    ),
    // The kid is only a lookup key, never a path or a query: signed by the trusted key, a kid
    // that would reach another key through a file system or a database finds none.
    row(
      'kid with a path traversal → 401 no key',
      withHeader({ kid: '../../etc/passwd' }),
      refused('ERR_KEY_NOT_FOUND'),
    ),
    row(
      'kid with an SQL injection → 401 no key',
      withHeader({ kid: "' OR 1=1 --" }),
      refused('ERR_KEY_NOT_FOUND'),
    ),
    // RFC 8725 §3.10: keys come from the configuration, never from the token. Without a kid
    // the trusted keys are tried, and the attacker's embedded key is not among them.
    row(
      'header jwk of the attacker’s signing key, no kid → 401 bad signature',
      byAttacker({ kid: undefined, jwk: attacker.jwk }),
      refused('ERR_SIGNATURE_INVALID'),
    ),
    row(
      'header x5c of the attacker’s signing certificate, no kid → 401 bad signature',
      me(() => {
        const { client } = env.certificates;
        return signJwt(keys.ES256, claimsOf(env.token()), {
          header: { kid: undefined, x5c: [client.der.toString('base64')] },
          signingKey: createPrivateKey(client.keyPem),
        });
      }),
      refused('ERR_SIGNATURE_INVALID'),
    ),
    // Signed by the attacker's key under its own kid, which only the configured JWKS is
    // searched for: no key, and nothing fetched from the URL.
    row(
      'header jku naming the attacker’s JWKS → 401 no key',
      byAttacker({ jku: 'https://evil.example/jwks.json' }),
      refused('ERR_KEY_NOT_FOUND'),
    ),
    row(
      'header x5u naming the attacker’s certificate → 401 no key',
      byAttacker({ x5u: 'https://evil.example/cert.pem' }),
      refused('ERR_KEY_NOT_FOUND'),
    ),
    row(
      'malformed token → 401',
      me(() => 'abc.def'),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    // DESIGN: size limit (8 KiB default) before any parsing.
    row(
      'token over 8 KiB → 401',
      me(() => env.token({ pad: 'x'.repeat(8 * 1024) })),
      refused('ERR_TOKEN_TOO_LARGE'),
    ),

    // RFC 9068 §4: `at+jwt` or its media type; plain `JWT` or none outside strict mode.
    row('typ application/at+jwt → 200', withHeader({ typ: 'application/at+jwt' }), ok()),
    row('typ JWT → 200', withHeader({ typ: 'JWT' }), ok()),
    row('no typ → 200', withHeader({ typ: undefined }), ok()),
    // RFC 8725 §3.11: a DPoP proof (or any JWT typed for something else) is no access token.
    row(
      'typ dpop+jwt → 401 wrong type',
      withHeader({ typ: 'dpop+jwt' }),
      refused('ERR_TYPE_INVALID'),
    ),
    // RFC 9068 to the letter: `at+jwt` only, and client_id and jti required (§2.2).
    row(
      'strict: typ at+jwt → 200',
      me(() => env.token()),
      ok(),
      strictMode,
    ),
    row(
      'strict: typ JWT → 401 wrong type',
      withHeader({ typ: 'JWT' }),
      refused('ERR_TYPE_INVALID'),
      strictMode,
    ),
    row(
      'strict: no typ → 401 wrong type',
      withHeader({ typ: undefined }),
      refused('ERR_TYPE_INVALID'),
      strictMode,
    ),
    row(
      'strict: no client_id → 401',
      me(() => env.token({ client_id: undefined })),
      refused('ERR_CLAIM_MISSING'),
      strictMode,
    ),
    row(
      'strict: no jti → 401',
      me(() => env.token({ jti: undefined })),
      refused('ERR_CLAIM_MISSING'),
      strictMode,
    ),
    // RFC 7515 §4.1.11: an extension the recipient does not understand must be refused.
    row(
      'crit naming an unknown extension → 401',
      withHeader({ crit: ['urn:example:ext'], 'urn:example:ext': true }),
      refused('ERR_HEADER_INVALID'),
    ),
    // RFC 7797: with b64 false the payload would be verified as raw bytes; never accepted.
    row('b64: false → 401', withHeader({ b64: false }), refused('ERR_HEADER_INVALID')),
    // RFC 7519 §4: two parsers may keep different duplicates (here the second `sub`).
    row(
      'duplicate "sub" in the payload → 401',
      me(() =>
        signRaw(
          JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: keys.ES256.kid }),
          JSON.stringify(claimsOf(env.token())).replace(/}$/, ',"sub":"admin"}'),
          { alg: 'ES256', key: keys.ES256.signingKey },
        ),
      ),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    // The same name once escaped: JSON.parse reads both as "sub".
    row(
      'duplicate "sub" spelled with a \\u escape → 401',
      withPayload(() => payloadText().replace(/}$/, ',"s\\u0075b":"admin"}')),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    row(
      'duplicate member in a nested object of the payload → 401',
      withPayload(() => payloadText().replace(/}$/, ',"org":{"id":"a","id":"b"}}')),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    // RFC 7515 §4: header names are unique too; here a parser keeping the first alg sees none.
    row(
      'duplicate "alg" in the header → 401',
      me(() =>
        signRaw(
          JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: keys.ES256.kid }).replace(
            /^{/,
            '{"alg":"none",',
          ),
          payloadText(),
          { alg: 'ES256', key: keys.ES256.signingKey },
        ),
      ),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    // RFC 7519 §4: the claims set is a JSON object.
    row(
      'payload a JSON array → 401',
      withPayload(() => `[${payloadText()}]`),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    row(
      'payload null → 401',
      withPayload(() => 'null'),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    // maxJsonDepth bounds nesting: 16 levels by default, the claims set itself the first.
    row(
      'claims nested 16 levels deep → 200',
      me(() => env.token({ deep: nested(15) })),
      ok(),
    ),
    row(
      'claims nested 17 levels deep → 401',
      me(() => env.token({ deep: nested(16) })),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    row(
      'header nested 17 levels deep → 401',
      withHeader({ deep: nested(16) }),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    // RFC 7518 §3.4: ES* signatures are raw r‖s; DER is what another library might accept.
    row(
      'ES256 signature in DER → 401',
      me(() => signJwt(keys.ES256, claimsOf(env.token()), { der: true })),
      refused('ERR_SIGNATURE_INVALID'),
    ),
    // RFC 7515 §2 / RFC 4648 §5: Node's decoder reads each of these as the same bytes, so a
    // lenient verifier would accept them; every byte string has one accepted spelling.
    row(
      'padded signature → 401',
      me(() => `${env.token()}==`),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    row(
      'signature in base64 (+ and /) → 401',
      me(() => {
        const token = signatureWithDashOrUnderscore();
        return replaceSegment(token, 2, toBase64(token.split('.')[2] ?? ''));
      }),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    row(
      'payload in base64 (+ and /), signed as sent → 401',
      me(() => {
        // Six "~" (0x7E) hold one 3-byte group at every alignment, which encodes to "fn5-":
        // the payload segment has a "-" whatever comes before it.
        const [header, payload] = env.token({ note: '~~~~~~' }).split('.');
        const input = `${header ?? ''}.${toBase64(payload ?? '')}`;
        return `${input}.${b64url(signBytes('ES256', keys.ES256.signingKey, input))}`;
      }),
      refused('ERR_TOKEN_MALFORMED'),
    ),
    row(
      'signature with non-zero unused trailing bits → 401',
      me(() => {
        const token = env.token();
        return replaceSegment(token, 2, withTrailingBit(token.split('.')[2] ?? ''));
      }),
      refused('ERR_TOKEN_MALFORMED'),
    ),

    row(
      'requireScope with the scope → 200',
      withScope('/items', 'profile read:items'),
      ok(['profile', 'read:items']),
    ),
    row(
      'missing scope → 403 naming it',
      withScope('/items', 'profile'),
      refused('ERR_SCOPE_INSUFFICIENT', { scope: 'read:items' }),
    ),
    row(
      'no scope claim → 403 naming it',
      withScope('/items', undefined),
      refused('ERR_SCOPE_INSUFFICIENT', { scope: 'read:items' }),
    ),
    // Exact, case-sensitive matching of whole scope tokens (RFC 6749 §3.3).
    row(
      '"read:itemsX" is not "read:items" → 403',
      withScope('/items', 'read:itemsX'),
      refused('ERR_SCOPE_INSUFFICIENT', { scope: 'read:items' }),
    ),
    row(
      '"READ:ITEMS" is not "read:items" → 403',
      withScope('/items', 'READ:ITEMS'),
      refused('ERR_SCOPE_INSUFFICIENT', { scope: 'read:items' }),
    ),
    row(
      '"read:item" is not "read:items" → 403',
      withScope('/items', 'read:item'),
      refused('ERR_SCOPE_INSUFFICIENT', { scope: 'read:items' }),
    ),
    // RFC 9068 §2.2.3: `scope` is one space-separated string; anything else is invalid.
    row(
      'scope as an array → 401',
      withScope('/items', ['read:items']),
      refused('ERR_CLAIM_INVALID'),
    ),
    row(
      'POST /items with write:items → 200',
      withScope('/items', 'write:items', 'POST'),
      ok(['write:items']),
    ),
    row(
      'POST /items with read:items only → 403',
      withScope('/items', 'read:items', 'POST'),
      refused('ERR_SCOPE_INSUFFICIENT', { scope: 'write:items' }),
    ),
    row(
      'all-of with both scopes → 200',
      withScope('/items', 'write:items admin', 'DELETE'),
      ok(['write:items', 'admin']),
    ),
    row(
      'all-of with one of two scopes → 403 naming both',
      withScope('/items', 'write:items', 'DELETE'),
      refused('ERR_SCOPE_INSUFFICIENT', { scope: 'admin write:items' }),
    ),
    row(
      'any-of with the first scope → 200',
      withScope('/reports', 'reports:read'),
      ok(['reports:read']),
    ),
    row('any-of with the second scope → 200', withScope('/reports', 'admin'), ok(['admin'])),
    row(
      'any-of with neither → 403 naming both',
      withScope('/reports', 'read:items reports:readX'),
      refused('ERR_SCOPE_INSUFFICIENT', { scope: 'reports:read admin' }),
    ),

    row('claim equals → 200', withClaims('/tenant', { tenant: 'acme' }), ok()),
    row(
      'claim differs → 403',
      withClaims('/tenant', { tenant: 'acme-evil' }),
      refused('ERR_CLAIM_MISMATCH'),
    ),
    row(
      'claim differs in case → 403',
      withClaims('/tenant', { tenant: 'ACME' }),
      refused('ERR_CLAIM_MISMATCH'),
    ),
    row('claim missing → 403', withClaims('/tenant', {}), refused('ERR_CLAIM_MISMATCH')),
    row(
      'array claim contains the value → 200',
      withClaims('/staff', { roles: ['dev', 'staff'] }),
      ok(),
    ),
    row(
      'array claim lacks the value → 403',
      withClaims('/staff', { roles: ['dev', 'staffer'] }),
      refused('ERR_CLAIM_MISMATCH'),
    ),

    // DESIGN: a key-source outage is a 503, never a 401 and never a 500.
    row(
      'keys unavailable → 503 without a challenge',
      me(() => env.token({ iss: env.downIssuer })),
      refused('ERR_KEYS_UNAVAILABLE'),
      () => env.options({ issuer: env.downIssuer }),
    ),

    // DESIGN: the guard fails closed when the store is down, and says so without a challenge.
    row(
      'store unavailable → 503 without a challenge',
      me(() => env.token()),
      refused('ERR_STORE_UNAVAILABLE'),
      () => env.options({ store: unavailableStore() }),
    ),
    row(
      'store unavailable with storeUnavailable: allow → 200',
      me(() => env.token()),
      ok(),
      () => env.options({ store: unavailableStore(), storeUnavailable: 'allow' }),
    ),

    // RFC 6750 §2.3 / RFC 9700: tokens in URLs leak into logs; off unless configured.
    row(
      'query access_token ignored by default → 401 missing',
      () => req('GET', `/me?access_token=${env.token()}`),
      refused('ERR_TOKEN_MISSING'),
    ),
    row(
      'query access_token in query mode → 200',
      () => req('GET', `/me?access_token=${env.token()}`),
      ok(),
      () => env.options({ tokenLocations: ['query'] }),
    ),
    // RFC 6750 §2: a client must not use more than one method.
    row(
      'header and query both sent in header+query mode → 400',
      () => req('GET', `/me?access_token=${env.token()}`, ...bearer(env.token())),
      refused('ERR_MULTIPLE_TOKENS'),
      () => env.options({ tokenLocations: ['header', 'query'] }),
    ),
    row(
      'cookie mode: GET with the cookie → 200',
      () => req('GET', '/me', ...cookie(env.token())),
      ok(),
      cookieMode,
    ),
    // Cookie tossing: a sibling subdomain can plant a second cookie of the same name; which
    // one a parser keeps differs, so two are refused rather than one picked.
    row(
      'cookie mode: the cookie sent twice → 400',
      () => req('GET', '/me', 'Cookie', `at=${env.token()}; at=${env.token()}`),
      refused('ERR_MULTIPLE_TOKENS'),
      cookieMode,
    ),
    // OWASP CSRF: a browser attaches cookies to cross-site requests; unsafe methods need proof.
    row(
      'cookie mode: POST without Origin or Sec-Fetch-Site → 403 without a challenge',
      () => req('POST', '/items', ...cookie(env.token({ scope: 'write:items' }))),
      refused('ERR_CROSS_SITE_REQUEST'),
      cookieMode,
    ),
    row(
      'cookie mode: POST with Sec-Fetch-Site: same-origin → 200',
      () =>
        req(
          'POST',
          '/items',
          ...cookie(env.token({ scope: 'write:items' })),
          'Sec-Fetch-Site',
          'same-origin',
        ),
      ok(['write:items']),
      cookieMode,
    ),
    row(
      'cookie mode: POST with Sec-Fetch-Site: cross-site → 403',
      () =>
        req(
          'POST',
          '/items',
          ...cookie(env.token({ scope: 'write:items' })),
          'Sec-Fetch-Site',
          'cross-site',
        ),
      refused('ERR_CROSS_SITE_REQUEST'),
      cookieMode,
    ),
    row(
      'cookie mode: POST with a foreign Origin → 403',
      () =>
        req(
          'POST',
          '/items',
          ...cookie(env.token({ scope: 'write:items' })),
          'Origin',
          'https://evil.example',
        ),
      refused('ERR_CROSS_SITE_REQUEST'),
      cookieMode,
    ),

    // The Origin check compares the Origin's host with the request's Host, as a same-origin
    // page's fetch sends them.
    row(
      'cookie mode: POST with its own Origin → 200',
      (target) => writeWithCookie('Origin', target.origin),
      ok(['write:items']),
      cookieMode,
    ),
    row(
      'cookie mode: POST with the Origin of another port → 403',
      // Port 1 is never the one the runner listens on (an ephemeral port).
      () => writeWithCookie('Origin', 'http://127.0.0.1:1'),
      refused('ERR_CROSS_SITE_REQUEST'),
      cookieMode,
    ),
    row(
      'cookie mode: POST with an Origin in allowedOrigins → 200',
      () => writeWithCookie('Origin', 'https://app.example'),
      ok(['write:items']),
      cookieModeFor(['https://app.example']),
    ),
    row(
      'cookie mode: POST with an Origin extending an allowed one → 403',
      () => writeWithCookie('Origin', 'https://app.example.evil.example'),
      refused('ERR_CROSS_SITE_REQUEST'),
      cookieModeFor(['https://app.example']),
    ),

    row(
      'optional auth: /me anonymous → 200 anonymous',
      () => req('GET', '/me'),
      ANONYMOUS,
      () => env.options({ credentialsRequired: false }),
    ),
    row(
      'optional auth: /me with an expired token → 401',
      me(() => env.token({ iat: now - 960, exp: now - 60 })),
      refused('ERR_TOKEN_EXPIRED'),
      () => env.options({ credentialsRequired: false }),
    ),
    row(
      'optional auth: /me with a valid token → 200',
      me(() => env.token()),
      ok(),
      () => env.options({ credentialsRequired: false }),
    ),
    row(
      'optional auth: /items anonymous → 401 missing',
      () => req('GET', '/items'),
      refused('ERR_TOKEN_MISSING'),
      () => env.options({ credentialsRequired: false }),
    ),

    row(
      'realm: no token → Bearer realm',
      () => req('GET', '/me'),
      refused('ERR_TOKEN_MISSING', { realm: 'api' }),
      () => env.options({ realm: 'api' }),
    ),
    row(
      'realm: expired → realm first',
      me(() => env.token({ iat: now - 960, exp: now - 60 })),
      refused('ERR_TOKEN_EXPIRED', { realm: 'api' }),
      () => env.options({ realm: 'api' }),
    ),
    row(
      'realm: missing scope → realm first',
      withScope('/items', 'profile'),
      refused('ERR_SCOPE_INSUFFICIENT', { realm: 'api', scope: 'read:items' }),
      () => env.options({ realm: 'api' }),
    ),

    {
      name: 'revoked token → 401 (another token still passes)',
      options: () => env.options({ store: env.store }),
      before: () => env.store.revokeToken({ jti: 'conformance-revoked', expiresAt: now + 900 }),
      steps: [
        { request: me(() => env.token()), expect: ok() },
        {
          request: me(() => env.token({ jti: 'conformance-revoked' })),
          expect: refused('ERR_TOKEN_REVOKED'),
        },
      ],
    },
    (() => {
      const first = once(() => env.token());
      return {
        name: '/once twice with the same token → 200 then 401 (another token passes)',
        options: base,
        steps: [
          { request: () => req('POST', '/once', ...bearer(first())), expect: ok() },
          {
            request: () => req('POST', '/once', ...bearer(first())),
            expect: refused('ERR_TOKEN_REPLAYED'),
          },
          { request: () => req('POST', '/once', ...bearer(env.token())), expect: ok() },
        ],
      };
    })(),
    row(
      '/once with a token without jti → 401',
      () => req('POST', '/once', ...bearer(env.token({ jti: undefined }))),
      refused('ERR_CLAIM_MISSING'),
    ),

    ...dpopRows(env, row),
    ...stepUpRows(env, row),
    ...mtlsRows(env, row),
  ];
}

type RowMaker = (
  name: string,
  request: (target: ConformanceTarget) => ConformanceRequest,
  expect: ConformanceExpectation,
  options?: () => Record<string, unknown>,
) => ConformanceCase;

// RFC 7518 §3.2: an HMAC secret has at least as many bits as the hash; each algorithm gets
// the shortest secret allowed, so the rows also pin the lower bound (256 bits for HS256).
const HMAC_SECRET_BYTES: readonly (readonly [TestAlgorithm, number])[] = [
  ['HS256', 32],
  ['HS384', 48],
  ['HS512', 64],
];

function hmacRows(
  env: ConformanceEnv,
  row: RowMaker,
  me: (token: () => string) => (target: ConformanceTarget) => ConformanceRequest,
): ConformanceCase[] {
  return HMAC_SECRET_BYTES.flatMap(([alg, bytes]) => {
    const secret = createTestKey(alg, {
      kid: `conformance-${alg.toLowerCase()}`,
      secretBytes: bytes,
    });
    const impostor = createTestKey(alg, { kid: secret.kid, secretBytes: bytes });
    // HS* is never on by default: the secret and the algorithm are both configured.
    const options = () => env.options({ keys: secret.jwk, algorithms: [alg] });
    return [
      row(
        `${alg} with the configured ${bytes * 8}-bit secret → 200`,
        me(() => env.token({}, secret)),
        ok(),
        options,
      ),
      row(
        `${alg} signed with another secret → 401`,
        me(() => env.token({}, impostor)),
        refused('ERR_SIGNATURE_INVALID'),
        options,
      ),
    ];
  });
}

// RFC 9449: DPoP-bound tokens (`cnf.jkt`) with their proofs, server nonces, and the `required`
// mode. The guard is configured with the public origin, never the Host the request carries.
function dpopRows(env: ConformanceEnv, row: RowMaker): ConformanceCase[] {
  const keys = testKeys();
  const now = env.clock.nowSeconds();
  const htu = (path: string): string => `${env.publicOrigin}${path}`;
  const dpopOptions =
    (extra: Record<string, unknown> = {}) =>
    () =>
      env.options({ dpop: { origin: env.publicOrigin, algorithms: [...DPOP_ALGS], ...extra } });
  const allowed = dpopOptions();
  const required = dpopOptions({ mode: 'required' });
  // A fleet's nonce secret: at least 32 bytes, the same on every instance.
  const withNonces = dpopOptions({ nonce: { secret: 'conformance-nonce-secret-of-32-bytes!' } });
  const clientKey = (): DpopKey => env.dpopKeys[0];
  // A token bound to the key of `key()` (RFC 9449 §6.1), with `claims` over the defaults.
  const bound = (claims: Record<string, unknown> = {}, key = clientKey): string =>
    env.token({ cnf: { jkt: key().thumbprint }, ...claims });
  const proofFor = (
    token: string,
    input: Partial<DpopProofInput> = {},
    key: DpopKey = clientKey(),
  ): string =>
    createDpopProof(key, {
      htm: 'GET',
      htu: htu('/me'),
      accessToken: token,
      iatSeconds: now,
      ...input,
    });
  // RFC 9449 §7.1: `Authorization: DPoP <token>` and the `DPoP` proof header(s).
  const dpop = (
    method: ConformanceRequest['method'],
    path: string,
    token: string,
    ...proofs: string[]
  ): ConformanceRequest =>
    req(method, path, 'Authorization', `DPoP ${token}`, ...proofs.flatMap((p) => ['DPoP', p]));
  // GET `path` with a bound token and a proof made of `input` over a valid one.
  const withProof =
    (input: Partial<DpopProofInput> = {}, path = '/me') =>
    () => {
      const token = bound();
      return dpop('GET', path, token, proofFor(token, { htu: htu(path), ...input }));
    };
  const inDpop = { dpop: { scheme: 'DPoP' } } as const;
  const inBearer = { dpop: { scheme: 'Bearer' } } as const;
  const invalidProof = refused('ERR_DPOP_PROOF_INVALID', inDpop);

  return [
    row('DPoP: bound token with a valid proof → 200', withProof(), ok(), allowed),
    row(
      'DPoP: the query is no part of htu → 200',
      () => {
        const token = bound();
        return dpop('GET', '/me?page=2', token, proofFor(token));
      },
      ok(),
      allowed,
    ),
    row(
      'DPoP: scheme in lower case → 200',
      () => {
        const token = bound();
        return req('GET', '/me', 'Authorization', `dpop ${token}`, 'DPoP', proofFor(token));
      },
      ok(),
      allowed,
    ),
    row(
      'DPoP: POST with htm POST → 200',
      () => {
        const token = bound({ scope: 'write:items' });
        return dpop('POST', '/items', token, proofFor(token, { htm: 'POST', htu: htu('/items') }));
      },
      ok(['write:items']),
      allowed,
    ),
    row(
      'DPoP: EdDSA proof for a token bound to the EdDSA key → 200',
      () => {
        const token = bound({}, () => env.dpopKeys[1]);
        return dpop('GET', '/me', token, proofFor(token, {}, env.dpopKeys[1]));
      },
      ok(),
      allowed,
    ),
    row('DPoP: a bearer token still passes in allowed mode → 200', getMe(env), ok(), allowed),
    row(
      'DPoP: no token → 401 offering Bearer and DPoP with algs',
      () => req('GET', '/me'),
      refused('ERR_TOKEN_MISSING', inBearer),
      allowed,
    ),
    row('requireDpop with a bound token and a proof → 200', withProof({}, '/dpop'), ok(), allowed),
    row(
      'requireDpop with a bearer token → 401 in the DPoP challenge only',
      () => req('GET', '/dpop', ...bearer(env.token())),
      refused('ERR_DPOP_REQUIRED', { dpop: { scheme: 'DPoP', bearer: false } }),
      allowed,
    ),
    // RFC 9449 §7.2: without the key, holding the token proves nothing.
    row(
      'DPoP: bound token sent as Bearer → 401',
      () => req('GET', '/me', ...bearer(bound())),
      refused('ERR_DPOP_BINDING_MISMATCH', inBearer),
      allowed,
    ),
    row(
      'DPoP not configured: bound token sent as Bearer → 401',
      () => req('GET', '/me', ...bearer(bound())),
      refused('ERR_DPOP_BINDING_MISMATCH'),
    ),
    row(
      'DPoP: bound token without a proof → 401 invalid_dpop_proof',
      () => dpop('GET', '/me', bound()),
      refused('ERR_DPOP_PROOF_MISSING', inDpop),
      allowed,
    ),
    row(
      'DPoP: two proof headers → 401',
      () => {
        const token = bound();
        return dpop('GET', '/me', token, proofFor(token), proofFor(token));
      },
      invalidProof,
      allowed,
    ),
    (() => {
      const token = once(() => bound());
      const proof = once(() => proofFor(token()));
      return {
        name: 'DPoP: the same proof twice → 200 then 401 replayed (a fresh proof passes)',
        options: allowed,
        steps: [
          { request: () => dpop('GET', '/me', token(), proof()), expect: ok() },
          {
            request: () => dpop('GET', '/me', token(), proof()),
            expect: refused('ERR_DPOP_PROOF_REPLAYED', inDpop),
          },
          { request: () => dpop('GET', '/me', token(), proofFor(token())), expect: ok() },
        ],
      };
    })(),
    row('DPoP: htm of another method → 401', withProof({ htm: 'POST' }), invalidProof, allowed),
    row(
      'DPoP: htm in lower case → 401 (methods are case-sensitive)',
      withProof({ htm: 'get' }),
      invalidProof,
      allowed,
    ),
    row(
      'DPoP: htu of another path → 401',
      withProof({ htu: htu('/items') }),
      invalidProof,
      allowed,
    ),
    row(
      'DPoP: htu of another origin → 401',
      withProof({ htu: 'https://evil.example/me' }),
      invalidProof,
      allowed,
    ),
    // The request's Host is the client's to write: the origin comes from configuration.
    row(
      'DPoP: htu naming the Host the request was sent to → 401',
      (target) => {
        const token = bound();
        return dpop('GET', '/me', token, proofFor(token, { htu: `${target.origin}/me` }));
      },
      invalidProof,
      allowed,
    ),
    row('DPoP: proof without ath → 401', withProof({ omit: ['ath'] }), invalidProof, allowed),
    row(
      'DPoP: ath of another token → 401',
      () => {
        const token = bound();
        return dpop('GET', '/me', token, proofFor(token, { accessToken: env.token() }));
      },
      invalidProof,
      allowed,
    ),
    row('DPoP: proof typ JWT → 401', withProof({ header: { typ: 'JWT' } }), invalidProof, allowed),
    row(
      'DPoP: proof iat an hour old → 401',
      withProof({ iatSeconds: now - 3600 }),
      invalidProof,
      allowed,
    ),
    row(
      'DPoP: proof signed by another key than its jwk → 401',
      withProof({ signWith: keys.ES256.signingKey }),
      invalidProof,
      allowed,
    ),
    // RFC 9449 §4.3 check 12: a valid proof, by a key the token is not bound to.
    row(
      'DPoP: proof by another client key → 401',
      () => {
        const token = bound();
        return dpop('GET', '/me', token, proofFor(token, {}, env.dpopKeys[1]));
      },
      refused('ERR_DPOP_BINDING_MISMATCH', inDpop),
      allowed,
    ),
    row(
      'DPoP: expired bound token with a valid proof → 401 in the DPoP challenge',
      () => {
        const token = bound({ iat: now - 960, exp: now - 60 });
        return dpop('GET', '/me', token, proofFor(token));
      },
      refused('ERR_TOKEN_EXPIRED', inDpop),
      allowed,
    ),
    row(
      'DPoP: missing scope → 403 in the DPoP challenge',
      () => {
        const token = bound({ scope: 'profile' });
        return dpop('GET', '/items', token, proofFor(token, { htu: htu('/items') }));
      },
      refused('ERR_SCOPE_INSUFFICIENT', { ...inDpop, scope: 'read:items' }),
      allowed,
    ),
    row(
      'step-up over DPoP: weaker acr → 401 in the DPoP challenge',
      () => {
        const token = bound({ acr: 'urn:example:pwd' });
        return dpop('GET', '/mfa', token, proofFor(token, { htu: htu('/mfa') }));
      },
      refused('ERR_AUTHENTICATION_INSUFFICIENT', {
        ...inDpop,
        acrValues: 'urn:example:mfa urn:example:hwk',
      }),
      allowed,
    ),

    row('DPoP required: bound token with a proof → 200', withProof(), ok(), required),
    row(
      'DPoP required: bearer token → 401 offering DPoP only',
      getMe(env),
      refused('ERR_DPOP_REQUIRED', { dpop: { scheme: 'DPoP', bearer: false } }),
      required,
    ),
    row(
      'DPoP required: no token → 401 DPoP with algs only',
      () => req('GET', '/me'),
      refused('ERR_TOKEN_MISSING', { dpop: { scheme: 'DPoP', bearer: false } }),
      required,
    ),

    // RFC 9449 §8: the nonce comes in the refusal, the retry carries it, and each accepted
    // answer brings the one for the next proof.
    (() => {
      const token = once(() => bound());
      return {
        name: 'DPoP nonce: no nonce → 401 use_dpop_nonce with DPoP-Nonce; the retry with it → 200 with DPoP-Nonce',
        options: withNonces,
        steps: [
          {
            request: () => dpop('GET', '/me', token(), proofFor(token())),
            expect: { ...refused('ERR_DPOP_NONCE_REQUIRED', inDpop), dpopNonce: true },
          },
          {
            request: (target: ConformanceTarget) =>
              dpop('GET', '/me', token(), proofFor(token(), { nonce: target.dpopNonce })),
            expect: { ...ok(), dpopNonce: true },
          },
          {
            request: (target: ConformanceTarget) =>
              dpop('GET', '/me', token(), proofFor(token(), { nonce: target.dpopNonce })),
            expect: { ...ok(), dpopNonce: true },
          },
        ],
      };
    })(),
    row(
      'DPoP nonce: a nonce the server never issued → 401 use_dpop_nonce with DPoP-Nonce',
      withProof({ nonce: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }),
      { ...refused('ERR_DPOP_NONCE_REQUIRED', inDpop), dpopNonce: true },
      withNonces,
    ),
    row('DPoP nonce: a bearer token → 200 without DPoP-Nonce', getMe(env), ok(), withNonces),
  ];
}

// RFC 9470: per-route acceptable `acr` values and a maximum authentication age.
function stepUpRows(env: ConformanceEnv, row: RowMaker): ConformanceCase[] {
  const now = env.clock.nowSeconds();
  const at = (path: string, claims: Record<string, unknown>) => () =>
    req('GET', path, ...bearer(env.token(claims)));
  const weak = refused('ERR_AUTHENTICATION_INSUFFICIENT', {
    acrValues: 'urn:example:mfa urn:example:hwk',
  });
  const stale = refused('ERR_AUTHENTICATION_INSUFFICIENT', { maxAge: 300 });
  return [
    row('step-up: acr among the accepted → 200', at('/mfa', { acr: 'urn:example:hwk' }), ok()),
    row(
      'step-up: weaker acr → 401 insufficient_user_authentication with acr_values',
      at('/mfa', { acr: 'urn:example:pwd' }),
      weak,
    ),
    row('step-up: no acr → 401 with acr_values', at('/mfa', {}), weak),
    row('step-up: acr in another case → 401', at('/mfa', { acr: 'URN:EXAMPLE:MFA' }), weak),
    row('step-up: acr as an array → 401', at('/mfa', { acr: ['urn:example:mfa'] }), weak),
    row(
      'step-up: authenticated 100 s ago, at most 300 → 200',
      at('/recent', { auth_time: now - 100 }),
      ok(),
    ),
    // The guard's clock tolerance (5 s by default) applies, as to `iat`.
    row(
      'step-up: authenticated 305 s ago, within the clock tolerance → 200',
      at('/recent', { auth_time: now - 305 }),
      ok(),
    ),
    row(
      'step-up: authenticated 306 s ago → 401 with max_age',
      at('/recent', { auth_time: now - 306 }),
      stale,
    ),
    row(
      'step-up: auth_time a minute in the future → 401 with max_age',
      at('/recent', { auth_time: now + 60 }),
      stale,
    ),
    row('step-up: no auth_time → 401 with max_age', at('/recent', {}), stale),
    row(
      'step-up: realm first, then the step-up attributes',
      at('/mfa', { acr: 'urn:example:pwd' }),
      refused('ERR_AUTHENTICATION_INSUFFICIENT', {
        realm: 'api',
        acrValues: 'urn:example:mfa urn:example:hwk',
      }),
      () => env.options({ realm: 'api' }),
    ),
  ];
}

// RFC 8705 §3: certificate-bound tokens (`cnf["x5t#S256"]`) over a real TLS connection, and
// behind a TLS-terminating proxy that forwards the certificate in a configured header.
function mtlsRows(env: ConformanceEnv, row: RowMaker): ConformanceCase[] {
  const tls = (): ConformanceTls => {
    const { ca, server } = env.certificates;
    return {
      key: server.keyPem,
      cert: server.certPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    };
  };
  const client = (): TestCertificate => env.certificates.client;
  const other = (): TestCertificate => env.certificates.other;
  const bound = (certificate: TestCertificate = client()): string =>
    env.token({ cnf: { 'x5t#S256': certificate.thumbprintS256 } });
  const mismatch = refused('ERR_CERTIFICATE_BINDING_MISMATCH');
  const overTls = (
    name: string,
    request: () => ConformanceRequest,
    expect: ConformanceExpectation,
    options: () => Record<string, unknown> = () => env.options(),
  ): ConformanceCase => ({ name, options, tls, steps: [{ request, expect }] });
  const presenting = (certificate: TestCertificate | undefined, token: string) => ({
    ...req('GET', '/me', ...bearer(token)),
    certificate,
  });
  // nginx's `$ssl_client_escaped_cert`: the PEM, URL-encoded.
  const forwarded = (certificate: TestCertificate): string =>
    encodeURIComponent(certificate.certPem);
  const behindProxy = () => env.options({ mtls: { certificateHeader: 'x-client-cert' } });

  return [
    overTls(
      'mTLS: bound token with its client certificate → 200',
      () => presenting(client(), bound()),
      ok(),
    ),
    overTls(
      'mTLS: bound token with another client certificate → 401',
      () => presenting(other(), bound()),
      mismatch,
    ),
    overTls(
      'mTLS: bound token without a client certificate → 401',
      () => presenting(undefined, bound()),
      mismatch,
    ),
    overTls(
      'mTLS: unbound token with a client certificate → 200',
      () => presenting(client(), env.token()),
      ok(),
    ),
    row(
      'mTLS: bound token over plain HTTP → 401',
      getMe(env, () => bound()),
      mismatch,
    ),
    row(
      'mTLS: the certificate in a header nobody configured → 401',
      () => req('GET', '/me', ...bearer(bound()), 'X-Client-Cert', forwarded(client())),
      mismatch,
    ),
    row(
      'mTLS behind a proxy: its certificate in certificateHeader → 200',
      () => req('GET', '/me', ...bearer(bound()), 'X-Client-Cert', forwarded(client())),
      ok(),
      behindProxy,
    ),
    row(
      'mTLS behind a proxy: another certificate in certificateHeader → 401',
      () => req('GET', '/me', ...bearer(bound()), 'X-Client-Cert', forwarded(other())),
      mismatch,
      behindProxy,
    ),
    row(
      'mTLS behind a proxy: certificateHeader sent twice → 401',
      () =>
        req(
          'GET',
          '/me',
          ...bearer(bound()),
          'X-Client-Cert',
          forwarded(client()),
          'X-Client-Cert',
          forwarded(client()),
        ),
      mismatch,
      behindProxy,
    ),
    overTls(
      'mTLS behind a proxy: the connection’s own certificate is not read → 401',
      () => presenting(client(), bound()),
      mismatch,
      behindProxy,
    ),
  ];
}

// A TokenStore (structurally) whose every call fails, like a store whose server went away.
function unavailableStore(): Record<string, () => Promise<never>> {
  const down = () => Promise.reject(new Error('conformance: the store is down'));
  return { revokeToken: down, revokeSubject: down, isRevoked: down, consumeOnce: down };
}

function toBase64(segment: string): string {
  return segment.replace(/-/g, '+').replace(/_/g, '/');
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

// The last character of a segment whose length is not a multiple of 4 has unused low bits
// (RFC 4648 §3.5); setting the lowest one changes the text but not the decoded bytes.
function withTrailingBit(segment: string): string {
  const last = BASE64URL.indexOf(segment.slice(-1));
  return `${segment.slice(0, -1)}${BASE64URL[last | 1] ?? ''}`;
}

/** `depth` arrays, each inside the next: `[[…[]…]]`. */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let level = 1; level < depth; level++) value = [value];
  return value;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

interface Answer {
  readonly status: number;
  readonly challenge: string | null;
  readonly dpopNonce: string | undefined;
  readonly body: unknown;
}

async function send(
  origin: string,
  request: ConformanceRequest,
  tls: ConformanceTls | undefined,
): Promise<Answer> {
  const { status, headers, text } = await sendRequest(origin, { ...request, ca: tls?.ca });
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: kept as text, so the assertion shows what came back.
  }
  const nonce = headers['dpop-nonce'];
  return {
    status,
    challenge: headers['www-authenticate'] ?? null,
    dpopNonce: typeof nonce === 'string' ? nonce : undefined,
    body,
  };
}

// RFC 9449 §8: a nonce is an opaque string of visible ASCII characters.
const NONCE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

// `request` numbers the step in both objects, so a failing diff shows which request of a
// row answered wrongly.
function actualFor(request: number, answer: Answer, expected: ConformanceExpectation): unknown {
  const { status, challenge, body } = answer;
  const dpopNonce = answer.dpopNonce === undefined ? false : NONCE.test(answer.dpopNonce);
  if ('body' in expected) return { request, status, challenge, dpopNonce, body };
  return { request, status, code: (body as { code?: unknown } | null)?.code, challenge, dpopNonce };
}

function expectedFor(request: number, expected: ConformanceExpectation): unknown {
  const dpopNonce = expected.dpopNonce ?? false;
  // A successful answer carries no challenge.
  return 'body' in expected
    ? { request, status: 200, challenge: null, dpopNonce, body: expected.body }
    : { request, ...expected, dpopNonce };
}

/**
 * Runs one row against one adapter: builds its server with the row's guard options (over
 * HTTPS for a row with `tls`), listens on 127.0.0.1:0, sends each request over real HTTP and
 * asserts the exact status, code, `WWW-Authenticate` (or body) and whether a `DPoP-Nonce` came
 * back, then closes the server.
 *
 * @example
 * ```ts
 * it.each(conformanceCases(env))('$name', (row) => runConformanceCase(harness, row));
 * ```
 */
export async function runConformanceCase(
  harness: ConformanceHarness,
  testCase: ConformanceCase,
): Promise<void> {
  const tls = testCase.tls?.();
  const server = await listenOnLoopback(await harness.createServer(testCase.options(), tls));
  try {
    // From the row, not the server: a harness that ignored `tls` fails here, not silently.
    const origin = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${server.port}`;
    await testCase.before?.();
    let dpopNonce: string | undefined;
    for (const [index, step] of testCase.steps.entries()) {
      const answer = await send(origin, step.request({ origin, dpopNonce }), tls);
      dpopNonce = answer.dpopNonce;
      deepStrictEqual(
        actualFor(index + 1, answer, step.expect),
        expectedFor(index + 1, step.expect),
      );
    }
  } finally {
    await server.close();
  }
}
