import type { Algorithm } from './algorithms.js';
import { createLruCache } from './cache.js';
import { checkTimeClaims, deepFreeze, validateClaims, type Claims } from './claims.js';
import type { AuthContext } from './context.js';
import { ConfigurationError, JwtGuardError, isJwtGuardError } from './errors.js';
import { identifier, type TokenRejectedEvent } from './events.js';
import { extractCredentials, type PresentationScheme } from './extract.js';
import { createSenderCheck } from './binding.js';
import { parseJsonObject } from './json.js';
import {
  checkProtectedHeader,
  createHeaderCache,
  decodeCompactJws,
  utf8,
  verifyJwsSignature,
  type DecodedJws,
} from './jws.js';
import type { VerificationKey } from './keys/key.js';
import type { ResourceMetadata } from './metadata.js';
import { resolveOptions, type GuardOptions, type ResolvedIssuer } from './options.js';
import type { GuardRequest } from './request.js';
import { checkRequirement, type Requirement } from './requirements.js';
import { readScopes } from './scopes.js';
import { isPromiseLike } from './promise.js';
import { createMemoryStore } from './store.js';

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown failure';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.name} ${code}` : error.name;
}

/**
 * The framework-neutral validator behind every adapter.
 *
 * @example
 * ```ts
 * const guard = createGuard({ issuer: 'https://idp.example/', audience: 'https://api.example/' });
 * const auth = await guard.authenticate({ method: req.method, url: req.url, headers: req.rawHeaders });
 * guard.authorize(auth, defineRequirement({ scopes: ['read:items'] }));
 * ```
 */
export interface Guard<A extends AuthContext | undefined = AuthContext> {
  /**
   * Finds the request's token and verifies it; throws a {@link JwtGuardError}. Resolves to
   * `undefined` for a request without any token only when `credentialsRequired: false`.
   */
  authenticate(request: GuardRequest): Promise<A>;
  /**
   * Verifies one token string; throws a {@link JwtGuardError}. A sender-constrained token
   * (`cnf.jkt`, `cnf["x5t#S256"]`) is refused here: without a request there is no proof or
   * client certificate to check it against; use `authenticate`. A token handled as data
   * rather than presented as a credential (the target of a revocation endpoint) is checked
   * without its binding with `{ senderConstraint: 'ignore' }`.
   */
  verify(token: string, options?: VerifyOptions): Promise<AuthContext>;
  /**
   * Checks a route requirement against a verified context; throws a {@link JwtGuardError}
   * (`ERR_TOKEN_MISSING` when there is no context: an anonymous caller on a guarded route).
   */
  authorize(auth: AuthContext | undefined, requirement: Requirement): void;
  /**
   * Accepts a token's `jti` once in `scope` (default: one scope shared by every one-time
   * route, so a one-time token serves one request in all): `ERR_TOKEN_REPLAYED` on a second
   * use, `ERR_CLAIM_MISSING` without `jti`. Always fails closed when the store is down.
   */
  consumeOnce(auth: AuthContext | undefined, scope?: string): Promise<void>;
  /** Fetches every remote key set now, so the first request does not wait; rejects on failure. */
  hydrate(): Promise<void>;
  /**
   * Headers to add to the response of an accepted request: a fresh `DPoP-Nonce` (RFC 9449 §9)
   * for a DPoP request when server nonces are configured, so clients follow the rotation.
   */
  responseHeaders(auth: AuthContext | undefined): Readonly<Record<string, string>>;
  /**
   * The RFC 9728 protected-resource metadata configured with `resourceMetadata`, for the
   * adapter to serve at its `path`; `undefined` without that option.
   */
  readonly resourceMetadata: ResourceMetadata | undefined;
}

/**
 * Options of {@link Guard.verify}.
 *
 * @example
 * ```ts
 * // An admin endpoint revoking a stolen DPoP-bound token: no proof comes with it.
 * const target = await guard.verify(body.token, { senderConstraint: 'ignore' });
 * const { jti, exp } = target.claims;
 * if (jti !== undefined && exp !== undefined) {
 *   await store.revokeToken({ jti, expiresAt: exp, iss: target.issuer });
 * }
 * ```
 */
export interface VerifyOptions {
  /**
   * `'refuse'` (default): a sender-constrained token is refused, having no request to be
   * checked against. `'ignore'`: its binding is not checked; never use the result to serve
   * the token's bearer.
   */
  readonly senderConstraint?: 'refuse' | 'ignore';
}

// Shared by every one-time route that names no scope of its own.
const DEFAULT_ONE_TIME_SCOPE = 'one-time';

interface CacheEntry {
  readonly context: AuthContext;
  readonly key: VerificationKey;
  readonly issuer: ResolvedIssuer;
}

/** What was decoded before a refusal, for its audit event (read only when someone listens). */
interface Facts {
  header?: Readonly<Record<string, unknown>>;
  claims?: Readonly<Record<string, unknown>>;
  scheme?: PresentationScheme;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
// What `verify(token)` checks a token's binding against: no proof, no certificate.
const NO_REQUEST: GuardRequest = Object.freeze({ method: '', url: '/', headers: [] });
// What `verify(token, { senderConstraint: 'ignore' })` passes instead: no binding is checked.
const TOKEN_AS_DATA: GuardRequest = Object.freeze({ method: '', url: '/', headers: [] });

function isDpopBound(auth: AuthContext): boolean {
  const cnf = auth.claims.cnf as { jkt?: unknown } | undefined;
  return typeof cnf?.jkt === 'string';
}

function identifiersOf(facts: Facts): Omit<TokenRejectedEvent, 'type' | 'code'> {
  const { header, claims } = facts;
  return {
    iss: identifier(claims?.iss),
    sub: identifier(claims?.sub),
    jti: identifier(claims?.jti),
    kid: identifier(header?.kid),
    alg: identifier(header?.alg),
  };
}

// RFC 9068 §4: `at+jwt` (or its media type); plain `JWT` or none only outside strict mode.
// Anything else (`dpop+jwt`, `logout+jwt`, …) was made for another purpose.
function checkType(typ: unknown, strict: boolean): void {
  if (typ === undefined) {
    if (strict) throw new JwtGuardError('ERR_TYPE_INVALID');
    return;
  }
  if (typeof typ !== 'string') throw new JwtGuardError('ERR_TYPE_INVALID');
  const lower = typ.toLowerCase();
  const name = lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
  if (name === 'at+jwt' || (name === 'jwt' && !strict)) return;
  throw new JwtGuardError('ERR_TYPE_INVALID');
}

/**
 * Builds a guard. Options are validated here, once; a mistake throws a `ConfigurationError`
 * that says how to fix it.
 *
 * @example
 * ```ts
 * const guard = createGuard({ issuer: 'https://idp.example/', audience: 'https://api.example/' });
 * await guard.hydrate(); // optional: fetch keys at startup
 * ```
 */
export function createGuard(
  options: GuardOptions & { readonly credentialsRequired: false },
): Guard<AuthContext | undefined>;
export function createGuard(options: GuardOptions): Guard;
export function createGuard(options: GuardOptions): Guard<AuthContext | undefined> {
  const resolved = resolveOptions(options);
  const { issuers, limits, extraction, clock, emit, strict, store, failOpen } = resolved;
  const listening = options.onEvent !== undefined;
  const headers = createHeaderCache();
  const clockToleranceSeconds = Math.max(
    ...[...issuers.values()].map((i) => i.claims.clockToleranceSeconds),
  );
  // A store that forgets a revocation at exp + 5 s, behind a guard that accepts tokens until
  // exp + 60 s, would bring revoked tokens back for 55 s.
  if (
    typeof store?.clockToleranceSeconds === 'number' &&
    store.clockToleranceSeconds < clockToleranceSeconds
  ) {
    throw new ConfigurationError(
      `"store" keeps entries ${store.clockToleranceSeconds} s past expiry, but the guard accepts tokens up to ${clockToleranceSeconds} s past exp; create the store with clockToleranceSeconds: ${clockToleranceSeconds}`,
    );
  }
  // One-time tokens need state even when no store was configured: the embedded default.
  const oneTimeStore = store ?? createMemoryStore({ clock, clockToleranceSeconds });
  const checkSender = createSenderCheck({
    dpop: resolved.dpop,
    certificateThumbprint: resolved.certificateThumbprint,
    replayStore: oneTimeStore,
    clock,
    clockToleranceSeconds,
    emit,
  });
  const cache =
    resolved.cacheMaxEntries > 0
      ? createLruCache<string, CacheEntry>(resolved.cacheMaxEntries)
      : undefined;

  function rejection(error: unknown, facts: Facts): JwtGuardError {
    // Anything that is not ours is a defect, not a verdict on the token: refuse without
    // details rather than leak an internal message.
    const guardError = isJwtGuardError(error)
      ? error
      : new JwtGuardError('ERR_TOKEN_MALFORMED', { cause: error });
    if (listening) {
      emit({
        type: 'token.rejected',
        code: guardError.code,
        ...identifiersOf(facts),
        requirement: guardError.requirement,
      });
    }
    return resolved.challenge === undefined
      ? guardError
      : guardError.withChallenge(resolved.challenge, { scheme: facts.scheme });
  }

  function accepted(context: AuthContext, cached: boolean, asData: boolean): AuthContext {
    if (listening) {
      const { claims } = context;
      emit({
        type: 'token.accepted',
        iss: context.issuer,
        sub: identifier(claims.sub),
        jti: identifier(claims.jti),
        kid: identifier(context.header.kid),
        alg: context.header.alg as string,
        cached,
        // An audit log must tell a token inspected as data from one used without its proof.
        ...(asData ? { senderConstraint: 'ignored' as const } : {}),
      });
    }
    return context;
  }

  // Everything after the signature: claims, context, cache. Synchronous.
  function complete(
    token: string,
    jws: DecodedJws,
    claims: Record<string, unknown>,
    issuer: ResolvedIssuer,
    key: VerificationKey,
  ): AuthContext {
    const valid: Claims = validateClaims(claims, issuer.claims, clock.nowMs() / 1000);
    // Frozen only when cached: then one object serves many requests, and a handler that
    // mutates it must not change what the next request sees.
    const freeze = cache === undefined ? <T>(value: T): T => value : deepFreeze;
    const context: AuthContext = Object.freeze({
      token,
      header: jws.header,
      claims: freeze(valid),
      scopes: Object.freeze(readScopes(valid, issuer.scopeClaim)),
      issuer: issuer.issuer,
      subject: valid.sub,
    });
    cache?.set(token, { context, key, issuer });
    return context;
  }

  function verifyFully(token: string, facts: Facts): AuthContext | Promise<AuthContext> {
    const jws = decodeCompactJws(token, limits, headers);
    facts.header = jws.header;
    const algorithm: Algorithm = checkProtectedHeader(jws.header, resolved.algorithms);
    checkType(jws.header.typ, strict);
    const parsed = parseJsonObject(utf8(jws.payload), limits.maxJsonDepth);
    if (!parsed.ok) throw new JwtGuardError('ERR_TOKEN_MALFORMED');
    const claims = parsed.value;
    facts.claims = claims;
    // The unverified `iss` only chooses whose keys to try, by exact string match; a token
    // naming issuer A can never be checked with issuer B's keys.
    const issuer = typeof claims.iss === 'string' ? issuers.get(claims.iss) : undefined;
    if (issuer === undefined) throw new JwtGuardError('ERR_ISSUER_INVALID');
    if (!issuer.algorithms.includes(algorithm)) {
      throw new JwtGuardError('ERR_ALGORITHM_NOT_ALLOWED');
    }
    const key = verifyJwsSignature(jws, algorithm, issuer.keys);
    return key instanceof Promise
      ? key.then((found) => complete(token, jws, claims, issuer, found))
      : complete(token, jws, claims, issuer, key);
  }

  function fromCache(token: string): AuthContext | undefined {
    const hit = cache?.get(token);
    if (hit === undefined) return undefined;
    if (!hit.issuer.keys.has(hit.key)) {
      // The key left the published set: verify again, as if never seen.
      cache?.delete(token);
      return undefined;
    }
    try {
      checkTimeClaims(hit.context.claims, hit.issuer.claims, clock.nowMs() / 1000);
    } catch (error) {
      cache?.delete(token);
      throw error;
    }
    return hit.context;
  }

  function verify(
    token: unknown,
    facts: Facts,
    request: GuardRequest,
    scheme: PresentationScheme,
  ): AuthContext | Promise<AuthContext> {
    if (typeof token !== 'string') throw new JwtGuardError('ERR_TOKEN_MALFORMED');
    const hit = fromCache(token);
    if (hit !== undefined) {
      facts.header = hit.header;
      facts.claims = hit.claims;
    }
    const admitted =
      hit !== undefined ? admit(hit) : then(verifyFully(token, facts), (context) => admit(context));
    // The binding is checked per request, after the token itself: a proof or a certificate
    // belongs to this request, never to the cache. Only then is the token accepted, so an
    // audit log never shows a request as accepted and refused at once.
    return then(admitted, (context) => {
      const asData = request === TOKEN_AS_DATA;
      const checked = asData ? undefined : checkSender(request, context, scheme);
      const cached = hit !== undefined;
      return checked === undefined
        ? accepted(context, cached, asData)
        : checked.then(() => accepted(context, cached, asData));
    });
  }

  // The revocation check runs on every request, also when the cache answered: a revoked
  // token is never served from the cache.
  function admit(context: AuthContext): AuthContext | Promise<AuthContext> {
    if (store === undefined) return context;
    let answer: boolean | PromiseLike<boolean>;
    try {
      answer = store.isRevoked(context.claims);
    } catch (error) {
      return storeFailed(error, context);
    }
    return isPromiseLike(answer)
      ? Promise.resolve(answer).then(
          (revoked) => revocationAnswer(revoked, context),
          (error: unknown) => storeFailed(error, context),
        )
      : revocationAnswer(answer, context);
  }

  function revocationAnswer(revoked: unknown, context: AuthContext): AuthContext {
    if (revoked === true) throw new JwtGuardError('ERR_TOKEN_REVOKED');
    // A store that answers neither true nor false is broken: a store failure (503 unless
    // storeUnavailable allows), not a verdict on the token.
    if (revoked !== false) {
      return storeFailed(new TypeError('isRevoked answered neither true nor false'), context);
    }
    return context;
  }

  function storeFailed(error: unknown, context: AuthContext): AuthContext {
    emit({ type: 'store.unavailable', allowed: failOpen, reason: reasonOf(error) });
    if (!failOpen) throw new JwtGuardError('ERR_STORE_UNAVAILABLE', { cause: error });
    return context;
  }

  // Chains without a promise when the value is already there (the cache-hit path).
  function then<T, U>(value: T | Promise<T>, next: (value: T) => U | Promise<U>): U | Promise<U> {
    return value instanceof Promise ? value.then(next) : next(value);
  }

  // One promise per call, and none extra when verification ran synchronously.
  function settle<T>(facts: Facts, run: () => T | Promise<T>): Promise<T> {
    try {
      const result = run();
      return result instanceof Promise
        ? result.catch((error: unknown) => {
            throw rejection(error, facts);
          })
        : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(rejection(error, facts));
    }
  }

  return {
    authenticate(request) {
      const facts: Facts = {};
      return settle(facts, () => {
        let credentials: { token: string; scheme: PresentationScheme };
        try {
          credentials = extractCredentials(request, extraction);
        } catch (error) {
          if (
            !resolved.credentialsRequired &&
            isJwtGuardError(error) &&
            error.code === 'ERR_TOKEN_MISSING'
          ) {
            return undefined;
          }
          throw error;
        }
        facts.scheme = credentials.scheme;
        return verify(credentials.token, facts, request, credentials.scheme);
      });
    },
    verify(token, verifyOptions) {
      const facts: Facts = {};
      const constraint = verifyOptions?.senderConstraint ?? 'refuse';
      if (constraint !== 'refuse' && constraint !== 'ignore') {
        return Promise.reject(
          new ConfigurationError("verify: \"senderConstraint\" must be 'refuse' or 'ignore'"),
        );
      }
      const request = constraint === 'ignore' ? TOKEN_AS_DATA : NO_REQUEST;
      return settle(facts, () => verify(token, facts, request, 'Bearer'));
    },
    authorize(auth, requirement) {
      try {
        if (auth === undefined) throw new JwtGuardError('ERR_TOKEN_MISSING');
        checkRequirement(auth, requirement, clock.nowMs() / 1000, clockToleranceSeconds);
      } catch (error) {
        throw rejection(error, {
          header: auth?.header,
          claims: auth?.claims,
          scheme: auth !== undefined && isDpopBound(auth) ? 'DPoP' : undefined,
        });
      }
    },
    resourceMetadata: resolved.resourceMetadata,
    responseHeaders(auth) {
      const nonces = resolved.dpop?.nonces;
      if (nonces === undefined || auth === undefined || !isDpopBound(auth)) return NO_HEADERS;
      return { 'DPoP-Nonce': nonces.current(clock.nowMs() / 1000) };
    },
    consumeOnce(auth, scope = DEFAULT_ONE_TIME_SCOPE) {
      const facts: Facts = { header: auth?.header, claims: auth?.claims };
      return settle(facts, async () => {
        if (auth === undefined) throw new JwtGuardError('ERR_TOKEN_MISSING');
        facts.scheme = isDpopBound(auth) ? 'DPoP' : undefined;
        const { jti, exp, iat } = auth.claims;
        if (typeof jti !== 'string')
          throw new JwtGuardError('ERR_CLAIM_MISSING', { requirement: 'jti' });
        const issuer = issuers.get(auth.issuer);
        // Remembered until the token can no longer be accepted anyway: past its expiry and the
        // guard's tolerance, whatever tolerance a custom store adds or lacks.
        const expiresAt =
          (exp ?? (iat ?? 0) + (issuer?.claims.maxLifetimeSeconds ?? 0)) + clockToleranceSeconds;
        let first: boolean;
        try {
          first = await oneTimeStore.consumeOnce(
            `${scope}\u0000${auth.issuer}\u0000${jti}`,
            expiresAt,
          );
        } catch (error) {
          emit({ type: 'store.unavailable', allowed: false, reason: reasonOf(error) });
          throw new JwtGuardError('ERR_STORE_UNAVAILABLE', { cause: error });
        }
        if (first !== true)
          throw new JwtGuardError('ERR_TOKEN_REPLAYED', { requirement: 'one-time' });
      });
    },
    async hydrate() {
      const sources = new Set([...issuers.values()].map((issuer) => issuer.keys));
      await Promise.all([...sources].map((source) => source.hydrate()));
    },
  };
}
