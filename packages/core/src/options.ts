import { ALGORITHMS, DEFAULT_ALGORITHMS, isAlgorithm, type Algorithm } from './algorithms.js';
import type { ChallengeParams } from './challenge.js';
import type { ClaimsPolicy } from './claims.js';
import { systemClock, type Clock } from './clock.js';
import { ConfigurationError } from './errors.js';
import { createEmitter, type EmitEvent, type GuardEvent } from './events.js';
import type { ExtractionPolicy, TokenLocation } from './extract.js';
import type { JwsLimits } from './jws.js';
import { createJwksLocator } from './keys/discovery.js';
import { isTrustedKeyUrl, type FetchLimits } from './keys/http.js';
import { createRemoteKeySource, type JwksPolicy } from './keys/jwks.js';
import type { KeySource } from './keys/source.js';
import { createStaticKeySource, type KeyInput } from './keys/static.js';
import type { ScopeClaim } from './scopes.js';
import type { TokenStore } from './store.js';
import {
  resolveResourceMetadata,
  type ResourceMetadata,
  type ResourceMetadataOptions,
} from './metadata.js';
import { resolveDpopOptions, type DpopOptions, type DpopPolicy } from './dpop/options.js';
import {
  createCertificateThumbprint,
  type CertificateThumbprint,
  type MtlsOptions,
} from './mtls.js';

/**
 * Audience setting: one or several exact values, or `null` to opt out explicitly.
 *
 * @example
 * ```ts
 * const audience: AudienceOption = ['https://api.example/', 'https://api.example/v2/'];
 * createGuard({ issuer: 'https://idp.example/', audience });
 * createGuard({ issuer: 'https://idp.example/', audience: null }); // no audience check, on purpose
 * ```
 */
export type AudienceOption = string | readonly string[] | null;

/**
 * Settings of one trusted issuer; unset fields take the guard-wide value.
 *
 * @example
 * ```ts
 * const partner: IssuerOptions = {
 *   issuer: 'https://partner-idp.example/',
 *   audience: 'https://api.example/partner',
 *   jwksUri: 'https://partner-idp.example/keys',
 *   algorithms: ['RS256'],
 *   scopeClaim: 'scp',
 * };
 * createGuard({ issuer: ['https://idp.example/', partner], audience: 'https://api.example/' });
 * ```
 */
export interface IssuerOptions {
  /** The exact `iss` value. */
  readonly issuer: string;
  readonly audience?: AudienceOption;
  /** JWKS URL; default: OIDC / RFC 8414 discovery from `issuer`. */
  readonly jwksUri?: string;
  /** Static keys (PEM, KeyObject, JWK, JWKS) instead of a JWKS URL. */
  readonly keys?: KeyInput | readonly KeyInput[];
  /** A key source of your own (HSM, secrets manager). */
  readonly keySource?: KeySource;
  readonly algorithms?: readonly Algorithm[];
  readonly scopeClaim?: ScopeClaim;
}

/**
 * Tuning of remote key sets.
 *
 * @example
 * ```ts
 * const jwks: JwksOptions = { cacheMaxAgeSeconds: 300, cooldownSeconds: 10, timeoutMs: 2000 };
 * createGuard({ issuer: 'https://idp.example/', audience: 'https://api.example/', jwks });
 * ```
 */
export interface JwksOptions extends Partial<JwksPolicy>, Partial<FetchLimits> {}

/**
 * Options of `createGuard`, the same object for every adapter. `issuer` and `audience` are
 * required; `audience: null` is the only way to skip audience checks, and omitting it does
 * not compile.
 *
 * @example
 * ```ts
 * const options: GuardOptions = { issuer: 'https://idp.example/', audience: 'https://api.example/' };
 * ```
 */
export interface GuardOptions {
  /** Trusted issuer(s): exact `iss` strings, or per-issuer settings. */
  readonly issuer: string | IssuerOptions | readonly (string | IssuerOptions)[];
  /** Accepted audience(s), exact match; `null` disables audience checks. */
  readonly audience: AudienceOption;
  readonly jwksUri?: string;
  readonly keys?: KeyInput | readonly KeyInput[];
  readonly keySource?: KeySource;
  /** Accepted algorithms; default every asymmetric one. HS* needs a secret in `keys`. */
  readonly algorithms?: readonly Algorithm[];
  /** Allowed clock skew for `exp`, `nbf`, `iat`; default 5. */
  readonly clockToleranceSeconds?: number;
  /** Refuse tokens whose `iat` is older than this; default: no limit. */
  readonly maxTokenAgeSeconds?: number;
  /** Refuse tokens living longer than this (`exp - iat`); default 86400. */
  readonly maxLifetimeSeconds?: number;
  /** Opt out of a required claim (RFC 9068 requires all three); default all `true`. */
  readonly requiredClaims?: {
    readonly exp?: boolean;
    readonly iat?: boolean;
    readonly sub?: boolean;
  };
  /** Where tokens may come from; default `['header']`. */
  readonly tokenLocations?: readonly TokenLocation[];
  /** Cookie settings, required when `tokenLocations` includes `'cookie'`. */
  readonly cookie?: { readonly name: string; readonly allowedOrigins?: readonly string[] };
  /** Claim holding scopes; default `scope`. */
  readonly scopeClaim?: ScopeClaim;
  /** RFC 9068 to the letter: `typ` `at+jwt`, `client_id` and `jti` required. */
  readonly strict?: boolean;
  /** Verified-token cache; default `{ maxEntries: 1000 }`. */
  readonly cache?: false | { readonly maxEntries?: number };
  /** Audit events; never given the token. */
  readonly onEvent?: (event: GuardEvent) => unknown;
  /** Largest token accepted, checked before parsing; default 8192. */
  readonly maxTokenBytes?: number;
  /** Deepest JSON nesting in header and claims; default 16. */
  readonly maxJsonDepth?: number;
  /** RFC 6750 `realm` in challenges. */
  readonly realm?: string;
  readonly jwks?: JwksOptions;
  /** Time source; default the system clock. */
  readonly clock?: Clock;
  /** Revocations and one-time tokens; checked on every request, also on cache hits. */
  readonly store?: TokenStore;
  /**
   * What to do when the store fails: `reject` (503 `ERR_STORE_UNAVAILABLE`, the default) or
   * `allow` (serve without the revocation check, emitting `store.unavailable` each time).
   */
  readonly storeUnavailable?: 'reject' | 'allow';
  /**
   * `false` lets requests without any token through with no `AuthContext` (routes serving
   * anonymous and signed-in callers); a token that is sent is still checked. Default `true`.
   */
  readonly credentialsRequired?: boolean;
  /**
   * DPoP (RFC 9449): accept `Authorization: DPoP` with a proof, or require it. A DPoP-bound
   * token (`cnf.jkt`) sent as a bearer token is refused with or without this option.
   */
  readonly dpop?: DpopOptions;
  /**
   * Mutual TLS (RFC 8705). Certificate-bound tokens (`cnf["x5t#S256"]`) are always checked
   * against the TLS connection's client certificate; this only names a trusted proxy header.
   */
  readonly mtls?: MtlsOptions;
  /**
   * This API's RFC 9728 protected-resource metadata: the adapters serve it at
   * `/.well-known/oauth-protected-resource…`, and every challenge names it in
   * `resource_metadata`, so clients can find out how to get a token.
   */
  readonly resourceMetadata?: ResourceMetadataOptions;
}

/**
 * One issuer as the guard uses it.
 *
 * @example
 * ```ts
 * const issuer: ResolvedIssuer | undefined = resolved.issuers.get('https://idp.example/');
 * issuer?.scopeClaim; // 'scope'
 * ```
 */
export interface ResolvedIssuer {
  readonly issuer: string;
  readonly keys: KeySource;
  readonly algorithms: readonly Algorithm[];
  readonly claims: ClaimsPolicy;
  readonly scopeClaim: ScopeClaim;
}

/**
 * Options after validation: everything the request path reads, precomputed.
 *
 * @example
 * ```ts
 * const resolved: ResolvedOptions = resolveOptions({
 *   issuer: 'https://idp.example/',
 *   audience: null,
 *   tokenLocations: ['header', 'query'],
 * });
 * resolved.extraction.query; // true
 * resolved.cacheMaxEntries; // 1000
 * ```
 */
export interface ResolvedOptions {
  readonly issuers: ReadonlyMap<string, ResolvedIssuer>;
  /** Union of every issuer's algorithms, checked before the issuer is known. */
  readonly algorithms: readonly Algorithm[];
  readonly extraction: ExtractionPolicy;
  readonly limits: JwsLimits;
  readonly strict: boolean;
  readonly cacheMaxEntries: number;
  readonly emit: EmitEvent;
  readonly clock: Clock;
  readonly challenge: ChallengeParams | undefined;
  readonly resourceMetadata: ResourceMetadata | undefined;
  readonly store: TokenStore | undefined;
  readonly failOpen: boolean;
  readonly credentialsRequired: boolean;
  readonly dpop: DpopPolicy | undefined;
  readonly certificateThumbprint: CertificateThumbprint;
}

const KNOWN_OPTIONS = new Set([
  'issuer',
  'audience',
  'jwksUri',
  'keys',
  'keySource',
  'algorithms',
  'clockToleranceSeconds',
  'maxTokenAgeSeconds',
  'maxLifetimeSeconds',
  'requiredClaims',
  'tokenLocations',
  'cookie',
  'scopeClaim',
  'strict',
  'cache',
  'onEvent',
  'maxTokenBytes',
  'maxJsonDepth',
  'realm',
  'jwks',
  'clock',
  'store',
  'storeUnavailable',
  'credentialsRequired',
  'dpop',
  'mtls',
  'resourceMetadata',
]);
const NESTED_OPTIONS: readonly [keyof GuardOptions, ReadonlySet<string>][] = [
  ['requiredClaims', new Set(['exp', 'iat', 'sub'])],
  ['cookie', new Set(['name', 'allowedOrigins'])],
  ['cache', new Set(['maxEntries'])],
  [
    'jwks',
    new Set([
      'cacheMaxAgeSeconds',
      'cooldownSeconds',
      'staleIfErrorSeconds',
      'timeoutMs',
      'maxResponseBytes',
      'agent',
    ]),
  ],
];
const ISSUER_OPTIONS = new Set([
  'issuer',
  'audience',
  'jwksUri',
  'keys',
  'keySource',
  'algorithms',
  'scopeClaim',
]);

// `https://user:password@host/`: a configuration message names the URL so the operator can
// find it, but it ends up in startup logs, so the credentials are left out.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)[^/\s"'@]*@/gi;

function fail(message: string): never {
  throw new ConfigurationError(message.replace(URL_CREDENTIALS, '$1***@'));
}

function number(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    fail(
      `"${name}" must be a finite number ≥ ${min}, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  return value;
}

function optionalNumber(name: string, value: unknown, min: number): number | undefined {
  return value === undefined ? undefined : number(name, value, 0, min);
}

function audiences(name: string, value: unknown): ReadonlySet<string> | null {
  if (value === null) return null;
  const list = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some((a) => typeof a !== 'string' || a === '')
  ) {
    fail(
      `"${name}" must be a non-empty string or array of strings; pass null to disable audience checks explicitly`,
    );
  }
  return new Set(list as string[]);
}

function algorithmList(name: string, value: unknown): readonly Algorithm[] {
  if (value === undefined) return DEFAULT_ALGORITHMS;
  if (!Array.isArray(value) || value.length === 0)
    fail(`"${name}" must be a non-empty array of algorithm names`);
  for (const alg of value as unknown[]) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      fail(`"${name}": "none" is never accepted; unsigned tokens prove nothing`);
    }
    if (!isAlgorithm(alg)) {
      fail(
        `"${name}": ${JSON.stringify(alg)} is not supported; use one of ${Object.keys(ALGORITHMS).join(', ')}`,
      );
    }
  }
  return Object.freeze([...new Set(value as Algorithm[])]);
}

function checkKnown(options: object, known: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(options)) {
    if (known.has(key)) continue;
    const near = [...known].find(
      (name) => editDistance(name.toLowerCase(), key.toLowerCase()) <= 2,
    );
    fail(
      `${where}: unknown option "${key}"; ${near === undefined ? `use one of ${[...known].join(', ')}` : `did you mean "${near}"?`}`,
    );
  }
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

interface SharedSources {
  remote: Map<string, KeySource>;
}

function keySourceFor(
  entry: IssuerOptions,
  defaults: GuardOptions,
  algorithms: readonly Algorithm[],
  context: {
    shared: SharedSources;
    jwks: JwksPolicy;
    limits: FetchLimits;
    clock: Clock;
    emit: EmitEvent;
  },
): KeySource {
  const keySource =
    entry.keySource ??
    (entry.keys === undefined && entry.jwksUri === undefined ? defaults.keySource : undefined);
  const keys =
    entry.keys ??
    (entry.jwksUri === undefined && entry.keySource === undefined ? defaults.keys : undefined);
  const jwksUri =
    entry.jwksUri ??
    (entry.keys === undefined && entry.keySource === undefined ? defaults.jwksUri : undefined);
  const given = [keySource, keys, jwksUri].filter((v) => v !== undefined).length;
  if (given > 1)
    fail(`issuer "${entry.issuer}": give one of "keys", "jwksUri" or "keySource", not several`);
  if (keySource !== undefined) return keySource;
  if (keys !== undefined) return createStaticKeySource(keys, algorithms);
  if (algorithms.some((a) => ALGORITHMS[a].family === 'HMAC')) {
    fail(
      `issuer "${entry.issuer}": HMAC algorithms need a shared secret in "keys"; a JWKS cannot serve them`,
    );
  }
  if (jwksUri !== undefined && !isTrustedKeyUrl(jwksUri)) {
    fail(`"jwksUri" must be an https URL (http only on loopback), got ${JSON.stringify(jwksUri)}`);
  }
  if (jwksUri === undefined && !isTrustedKeyUrl(entry.issuer)) {
    fail(
      `issuer "${entry.issuer}" is not an https URL, so its keys cannot be discovered; pass "jwksUri" or "keys"`,
    );
  }
  const label = jwksUri ?? entry.issuer;
  const cacheKey = `${jwksUri === undefined ? 'discover' : 'jwks'} ${label} ${algorithms.join(',')}`;
  let source = context.shared.remote.get(cacheKey);
  if (source === undefined) {
    source = createRemoteKeySource({
      locate:
        jwksUri === undefined
          ? createJwksLocator(entry.issuer, context.limits)
          : () => Promise.resolve(jwksUri),
      label,
      allowed: algorithms,
      policy: context.jwks,
      limits: context.limits,
      clock: context.clock,
      emit: context.emit,
    });
    context.shared.remote.set(cacheKey, source);
  }
  return source;
}

/**
 * Validates guard options once, at construction, and resolves defaults. Every mistake
 * throws a {@link ConfigurationError} whose message says how to fix it.
 *
 * @example
 * ```ts
 * const resolved = resolveOptions({ issuer: 'https://idp.example/', audience: null });
 * ```
 */
export function resolveOptions(options: GuardOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    fail('options are required: { issuer, audience }');
  checkKnown(options, KNOWN_OPTIONS, 'options');
  if (options.issuer === undefined)
    fail('"issuer" is required: the exact "iss" value of your authorization server');
  if (!Object.hasOwn(options, 'audience') || options.audience === undefined) {
    fail('"audience" is required; pass null to disable audience checks explicitly');
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock.nowMs !== 'function') fail('"clock" must have a nowMs() method');
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function')
    fail('"onEvent" must be a function');
  const emit = createEmitter(options.onEvent);
  for (const [name, known] of NESTED_OPTIONS) {
    const value = options[name];
    if (typeof value === 'object' && value !== null) checkKnown(value, known, `"${name}"`);
  }
  const required = options.requiredClaims ?? {};
  const requireExp = required.exp ?? true;
  const requireIat = required.iat ?? true;
  if (!requireExp && !requireIat) {
    fail('"requiredClaims": exp and iat cannot both be optional, or a token would never expire');
  }
  const tolerance = number('clockToleranceSeconds', options.clockToleranceSeconds, 5, 0);
  const maxAge = optionalNumber('maxTokenAgeSeconds', options.maxTokenAgeSeconds, 1);
  // The age is measured from iat: a token without one would pass the cap unmeasured.
  if (maxAge !== undefined && !requireIat) {
    fail(
      '"maxTokenAgeSeconds" is measured from iat, which "requiredClaims" makes optional; require iat or drop maxTokenAgeSeconds',
    );
  }
  const maxLifetime = number('maxLifetimeSeconds', options.maxLifetimeSeconds, 86_400, 1);
  const strict = options.strict ?? false;
  if (typeof strict !== 'boolean') fail('"strict" must be a boolean');
  const jwksOptions = options.jwks ?? {};
  const jwks: JwksPolicy = {
    cacheMaxAgeSeconds: number('jwks.cacheMaxAgeSeconds', jwksOptions.cacheMaxAgeSeconds, 600, 0),
    cooldownSeconds: number('jwks.cooldownSeconds', jwksOptions.cooldownSeconds, 30, 0),
    staleIfErrorSeconds: number(
      'jwks.staleIfErrorSeconds',
      jwksOptions.staleIfErrorSeconds,
      86_400,
      0,
    ),
  };
  const limits: FetchLimits = {
    timeoutMs: number('jwks.timeoutMs', jwksOptions.timeoutMs, 5000, 1),
    maxResponseBytes: number('jwks.maxResponseBytes', jwksOptions.maxResponseBytes, 262_144, 1024),
    agent: jwksOptions.agent,
  };

  const entries = (Array.isArray(options.issuer) ? options.issuer : [options.issuer]) as (
    string | IssuerOptions
  )[];
  if (entries.length === 0) fail('"issuer" is empty; name at least one issuer');
  const shared: SharedSources = { remote: new Map() };
  const issuers = new Map<string, ResolvedIssuer>();
  for (const raw of entries) {
    const entry: IssuerOptions = typeof raw === 'string' ? { issuer: raw } : raw;
    if (
      typeof entry !== 'object' ||
      entry === null ||
      typeof entry.issuer !== 'string' ||
      entry.issuer === ''
    ) {
      fail('"issuer" must be a non-empty string or { issuer, … } per issuer');
    }
    if (typeof raw !== 'string') checkKnown(raw, ISSUER_OPTIONS, `issuer "${entry.issuer}"`);
    if (issuers.has(entry.issuer)) fail(`issuer "${entry.issuer}" is listed twice`);
    const algorithms = algorithmList('algorithms', entry.algorithms ?? options.algorithms);
    const audience = entry.audience !== undefined ? entry.audience : options.audience;
    issuers.set(entry.issuer, {
      issuer: entry.issuer,
      algorithms,
      keys: keySourceFor(entry, options, algorithms, { shared, jwks, limits, clock, emit }),
      scopeClaim: scopeClaimOption(entry.scopeClaim ?? options.scopeClaim),
      claims: Object.freeze({
        audiences: audiences('audience', audience),
        clockToleranceSeconds: tolerance,
        maxTokenAgeSeconds: maxAge,
        maxLifetimeSeconds: maxLifetime,
        requireExp,
        requireIat,
        requireSub: required.sub ?? true,
        strict,
      }),
    });
  }

  const locations = options.tokenLocations ?? ['header'];
  if (!Array.isArray(locations) || locations.length === 0)
    fail('"tokenLocations" must list at least one of header, cookie, query');
  for (const location of locations as unknown[]) {
    if (location !== 'header' && location !== 'cookie' && location !== 'query') {
      fail(`"tokenLocations": ${JSON.stringify(location)} is not one of header, cookie, query`);
    }
  }
  let cookie: ExtractionPolicy['cookie'];
  if (locations.includes('cookie')) {
    const name = options.cookie?.name;
    if (typeof name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
      fail(
        '"tokenLocations" includes cookie: set "cookie.name" to the cookie that holds the token',
      );
    }
    const allowed = options.cookie?.allowedOrigins ?? [];
    for (const origin of allowed) {
      if (typeof origin !== 'string' || !/^https?:\/\/[^/]+$/.test(origin)) {
        fail(
          `"cookie.allowedOrigins": ${JSON.stringify(origin)} is not an origin like https://app.example`,
        );
      }
    }
    cookie = { name, allowedOrigins: new Set(allowed) };
  } else if (options.cookie !== undefined) {
    fail('"cookie" is set but "tokenLocations" does not include "cookie"');
  }
  const maxTokenBytes = number('maxTokenBytes', options.maxTokenBytes, 8192, 64);
  const cache = options.cache ?? {};
  const cacheMaxEntries =
    cache === false ? 0 : number('cache.maxEntries', cache.maxEntries, 1000, 0);
  // Printable ASCII only: a control character would be dropped from the challenge (another
  // realm than configured), and Node refuses a header value outside Latin-1 (every refusal a
  // 500). RFC 9110 §5.6.4: quote and backslash would need escapes a client may not undo.
  if (
    options.realm !== undefined &&
    (typeof options.realm !== 'string' || !/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(options.realm))
  ) {
    fail('"realm" must be a string of printable ASCII characters without quotes or backslashes');
  }
  const dpop = options.dpop === undefined ? undefined : resolveDpopOptions(options.dpop);
  const resourceMetadata =
    options.resourceMetadata === undefined
      ? undefined
      : resolveResourceMetadata(options.resourceMetadata, {
          issuers: [...issuers.keys()],
          tokenLocations: locations,
          dpopAlgorithms: dpop?.algorithms,
          dpopRequired: dpop?.required === true,
        });
  const challenge: ChallengeParams = {
    realm: options.realm,
    resourceMetadata: resourceMetadata?.url,
    dpopAlgorithms: dpop?.algorithms,
    bearer: dpop?.required !== true,
  };
  return Object.freeze({
    issuers,
    algorithms: Object.freeze([...new Set([...issuers.values()].flatMap((i) => i.algorithms))]),
    extraction: Object.freeze({
      header: locations.includes('header'),
      query: locations.includes('query'),
      cookie,
      maxTokenBytes,
      dpop: dpop !== undefined,
    }),
    limits: Object.freeze({
      maxTokenBytes,
      maxJsonDepth: number('maxJsonDepth', options.maxJsonDepth, 16, 2),
    }),
    strict,
    cacheMaxEntries,
    emit,
    clock,
    challenge:
      options.realm === undefined && resourceMetadata === undefined && dpop === undefined
        ? undefined
        : challenge,
    store: storeOption(options.store),
    failOpen:
      oneOf('storeUnavailable', options.storeUnavailable, ['reject', 'allow'], 'reject') ===
      'allow',
    credentialsRequired: booleanOption('credentialsRequired', options.credentialsRequired, true),
    dpop,
    certificateThumbprint: createCertificateThumbprint(options.mtls),
    resourceMetadata,
  });
}

function storeOption(store: unknown): TokenStore | undefined {
  if (store === undefined) return undefined;
  const methods = ['revokeToken', 'revokeSubject', 'isRevoked', 'consumeOnce'] as const;
  if (
    typeof store !== 'object' ||
    store === null ||
    methods.some((m) => typeof (store as Record<string, unknown>)[m] !== 'function')
  ) {
    fail('"store" must be a TokenStore (createMemoryStore() or createRedisStore({ client }))');
  }
  return store as TokenStore;
}

function oneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) fail(`"${name}" must be one of ${allowed.join(', ')}`);
  return value as T;
}

function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(`"${name}" must be true or false`);
  return value;
}

function scopeClaimOption(value: unknown): ScopeClaim {
  if (value === undefined) return 'scope';
  if (typeof value !== 'string' || value === '')
    fail('"scopeClaim" must be a claim name such as scope, scp or permissions');
  return value;
}
