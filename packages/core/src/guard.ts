import type { Algorithm } from './algorithms.js';
import { createLruCache } from './cache.js';
import { checkTimeClaims, deepFreeze, validateClaims, type Claims } from './claims.js';
import type { AuthContext } from './context.js';
import { JwtGuardError, isJwtGuardError } from './errors.js';
import { identifier } from './events.js';
import { extractToken } from './extract.js';
import { parseJsonObject } from './json.js';
import { checkProtectedHeader, decodeCompactJws, verifyJwsSignature } from './jws.js';
import type { VerificationKey } from './keys/key.js';
import { resolveOptions, type GuardOptions, type ResolvedIssuer } from './options.js';
import type { GuardRequest } from './request.js';
import { checkRequirement, type Requirement } from './requirements.js';
import { readScopes } from './scopes.js';

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
export interface Guard {
  /** Finds the request's token and verifies it; throws a {@link JwtGuardError}. */
  authenticate(request: GuardRequest): Promise<AuthContext>;
  /** Verifies one token string; throws a {@link JwtGuardError}. */
  verify(token: string): Promise<AuthContext>;
  /** Checks a route requirement against a verified context; throws a {@link JwtGuardError}. */
  authorize(auth: AuthContext, requirement: Requirement): void;
  /** Fetches every remote key set now, so the first request does not wait; rejects on failure. */
  hydrate(): Promise<void>;
}

interface CacheEntry {
  readonly context: AuthContext;
  readonly key: VerificationKey;
  readonly issuer: ResolvedIssuer;
}

/** Identifiers gathered while verifying, for the audit event of a refusal. */
interface Facts {
  iss?: string | undefined;
  sub?: string | undefined;
  jti?: string | undefined;
  kid?: string | undefined;
  alg?: string | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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
export function createGuard(options: GuardOptions): Guard {
  const resolved = resolveOptions(options);
  const { issuers, limits, extraction, clock, emit, strict } = resolved;
  const listening = options.onEvent !== undefined;
  const cache =
    resolved.cacheMaxEntries > 0
      ? createLruCache<string, CacheEntry>(resolved.cacheMaxEntries)
      : undefined;

  function refuse(error: unknown, facts: Facts, requirement?: string): never {
    // Anything that is not ours is a defect, not a verdict on the token: refuse without
    // details rather than leak an internal message.
    const guardError = isJwtGuardError(error)
      ? error
      : new JwtGuardError('ERR_TOKEN_MALFORMED', { cause: error });
    if (listening) {
      emit({
        type: 'token.rejected',
        code: guardError.code,
        ...facts,
        requirement: requirement ?? guardError.requirement,
      });
    }
    throw resolved.challenge === undefined
      ? guardError
      : guardError.withChallenge(resolved.challenge);
  }

  function accepted(context: AuthContext, cached: boolean): AuthContext {
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
      });
    }
    return context;
  }

  async function verifyFully(token: string, facts: Facts): Promise<AuthContext> {
    const jws = decodeCompactJws(token, limits);
    facts.kid = identifier(jws.header.kid);
    facts.alg = identifier(jws.header.alg);
    const algorithm: Algorithm = checkProtectedHeader(jws.header, resolved.algorithms);
    checkType(jws.header.typ, strict);
    let text: string;
    try {
      text = utf8.decode(jws.payload);
    } catch {
      throw new JwtGuardError('ERR_TOKEN_MALFORMED');
    }
    const parsed = parseJsonObject(text, limits.maxJsonDepth);
    if (!parsed.ok) throw new JwtGuardError('ERR_TOKEN_MALFORMED');
    const claims = parsed.value;
    facts.iss = identifier(claims.iss);
    facts.sub = identifier(claims.sub);
    facts.jti = identifier(claims.jti);
    // The unverified `iss` only chooses whose keys to try, by exact string match; a token
    // naming issuer A can never be checked with issuer B's keys.
    const issuer = typeof claims.iss === 'string' ? issuers.get(claims.iss) : undefined;
    if (issuer === undefined) throw new JwtGuardError('ERR_ISSUER_INVALID');
    if (!issuer.algorithms.includes(algorithm))
      throw new JwtGuardError('ERR_ALGORITHM_NOT_ALLOWED');
    const key = await verifyJwsSignature(jws, algorithm, issuer.keys);
    const valid: Claims = validateClaims(claims, issuer.claims, clock.nowMs() / 1000);
    const context: AuthContext = Object.freeze({
      token,
      header: deepFreeze(jws.header),
      claims: deepFreeze(valid),
      scopes: Object.freeze(readScopes(valid, issuer.scopeClaim)),
      issuer: issuer.issuer,
      subject: valid.sub,
    });
    cache?.set(token, { context, key, issuer });
    return context;
  }

  async function verify(token: string, facts: Facts): Promise<AuthContext> {
    if (typeof token !== 'string') throw new JwtGuardError('ERR_TOKEN_MALFORMED');
    const hit = cache?.get(token);
    if (hit !== undefined) {
      if (hit.issuer.keys.has(hit.key)) {
        try {
          checkTimeClaims(hit.context.claims, hit.issuer.claims, clock.nowMs() / 1000);
        } catch (error) {
          cache?.delete(token);
          throw error;
        }
        return accepted(hit.context, true);
      }
      // The key left the published set: verify again, as if never seen.
      cache?.delete(token);
    }
    return accepted(await verifyFully(token, facts), false);
  }

  return {
    async authenticate(request) {
      const facts: Facts = {};
      try {
        return await verify(extractToken(request, extraction), facts);
      } catch (error) {
        return refuse(error, facts);
      }
    },
    async verify(token) {
      const facts: Facts = {};
      try {
        return await verify(token, facts);
      } catch (error) {
        return refuse(error, facts);
      }
    },
    authorize(auth, requirement) {
      try {
        checkRequirement(auth, requirement);
      } catch (error) {
        const { claims } = auth;
        refuse(error, {
          iss: auth.issuer,
          sub: identifier(claims.sub),
          jti: identifier(claims.jti),
          kid: identifier(auth.header.kid),
          alg: identifier(auth.header.alg),
        });
      }
    },
    async hydrate() {
      const sources = new Set([...issuers.values()].map((issuer) => issuer.keys));
      await Promise.all([...sources].map((source) => source.hydrate()));
    },
  };
}
