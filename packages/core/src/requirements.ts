import type { AuthContext } from './context.js';
import { ConfigurationError, JwtGuardError } from './errors.js';

/**
 * A JSON value a claim can be compared with.
 *
 * @example
 * ```ts
 * const tier: ClaimValue = 2;
 * defineRequirement({ claims: [{ claim: 'tier', equals: tier }] });
 * ```
 */
export type ClaimValue = string | number | boolean;

/**
 * Decides whether a claim value satisfies a route; receives the whole claims set too.
 *
 * @example
 * ```ts
 * const verifiedEmail: ClaimPredicate = (value, claims) =>
 *   value === true && typeof claims.email === 'string';
 * defineRequirement({ claims: [{ claim: 'email_verified', predicate: verifiedEmail }] });
 * ```
 */
export type ClaimPredicate = (value: unknown, claims: Readonly<Record<string, unknown>>) => boolean;

/**
 * One claim condition of a route.
 *
 * @example
 * ```ts
 * const conditions: ClaimCondition[] = [
 *   { claim: 'tenant', equals: 'acme' },
 *   { claim: 'roles', matches: 'admin' },
 *   { claim: 'groups', includes: 'finance' },
 *   { claim: 'amr', predicate: (amr) => Array.isArray(amr) && amr.includes('mfa') },
 * ];
 * defineRequirement({ claims: conditions });
 * ```
 */
export type ClaimCondition =
  | { readonly claim: string; readonly equals: ClaimValue }
  /** Equals the value, or for an array claim (`roles`, `groups`) contains it. */
  | { readonly claim: string; readonly matches: ClaimValue }
  | { readonly claim: string; readonly includes: ClaimValue }
  | { readonly claim: string; readonly predicate: ClaimPredicate };

/**
 * What a route asks of a token, as written by users.
 *
 * @example
 * ```ts
 * const spec: RequirementSpec = {
 *   scopes: ['payouts:write'],
 *   claims: [{ claim: 'tenant', equals: 'acme' }],
 *   acr: 'urn:example:mfa',
 *   maxAuthAgeSeconds: 300,
 * };
 * const payouts = defineRequirement(spec);
 * ```
 */
export interface RequirementSpec {
  /** Every one of these scopes. */
  readonly scopes?: readonly string[];
  /** At least one of these scopes. */
  readonly anyScopes?: readonly string[];
  readonly claims?: readonly ClaimCondition[];
  /** The token's `aud` must contain one of these (on top of the guard's own audience). */
  readonly audience?: string | readonly string[];
  /** Only a DPoP-bound token presented with a valid proof (RFC 9449). */
  readonly dpop?: boolean;
  /** Step-up (RFC 9470): the token's `acr` must be one of these. */
  readonly acr?: string | readonly string[];
  /** Step-up (RFC 9470): the user authenticated (`auth_time`) at most this long ago. */
  readonly maxAuthAgeSeconds?: number;
}

/**
 * A validated, normalized route requirement: plain frozen data, evaluated by
 * {@link checkRequirement}, merged by {@link mergeRequirements}.
 *
 * @example
 * ```ts
 * const requirement: Requirement = defineRequirement({
 *   scopes: ['orders'],
 *   anyScopes: ['eu', 'us'],
 * });
 * requirement.allScopes; // ['orders']
 * requirement.anyScopeGroups; // [['eu', 'us']]
 * ```
 */
export interface Requirement {
  readonly allScopes: readonly string[];
  /** Each group must be met by at least one of its scopes. */
  readonly anyScopeGroups: readonly (readonly string[])[];
  readonly claims: readonly ClaimCondition[];
  /** Each group must be met by the token's `aud`. */
  readonly audienceGroups: readonly (readonly string[])[];
  /** A DPoP-bound token is required. */
  readonly dpop: boolean;
  /** Each group must contain the token's `acr`. */
  readonly acrGroups: readonly (readonly string[])[];
  /** Largest authentication age accepted, in seconds, or `undefined`. */
  readonly maxAuthAgeSeconds: number | undefined;
}

// RFC 6749 §3.3 scope-token: printable ASCII without space, '"' or '\'. Checking at startup
// also keeps every scope safe to quote in a WWW-Authenticate challenge.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function scopeList(name: string, scopes: readonly string[] | undefined): readonly string[] {
  if (scopes === undefined) return [];
  if (!Array.isArray(scopes))
    throw new ConfigurationError(`"${name}" must be an array of scope strings`);
  for (const scope of scopes as unknown[]) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) {
      throw new ConfigurationError(
        `"${name}": ${JSON.stringify(scope)} is not a scope token (RFC 6749 §3.3: printable ASCII, no spaces or quotes); pass each scope as its own argument`,
      );
    }
  }
  return Object.freeze([...new Set<string>(scopes)]);
}

function checkCondition(condition: ClaimCondition): ClaimCondition {
  if (
    typeof condition !== 'object' ||
    condition === null ||
    typeof condition.claim !== 'string' ||
    condition.claim === ''
  ) {
    throw new ConfigurationError('a claim condition needs a "claim" name');
  }
  const kinds = ['equals', 'matches', 'includes', 'predicate'].filter((kind) => kind in condition);
  if (kinds.length !== 1) {
    throw new ConfigurationError(
      `claim "${condition.claim}": give exactly one of "equals", "matches", "includes" or "predicate"`,
    );
  }
  if ('predicate' in condition) {
    if (typeof condition.predicate !== 'function') {
      throw new ConfigurationError(`claim "${condition.claim}": "predicate" must be a function`);
    }
  } else {
    const value =
      'equals' in condition
        ? condition.equals
        : 'matches' in condition
          ? condition.matches
          : condition.includes;
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      throw new ConfigurationError(
        `claim "${condition.claim}": compare with a string, number or boolean, or pass a predicate`,
      );
    }
  }
  return Object.freeze({ ...condition });
}

/**
 * Validates a route requirement once, when the route is defined. Adapters' `requireScope`,
 * `requireAnyScope` and `requireClaim` are this function with one field set.
 *
 * @example
 * ```ts
 * const adminOnly = defineRequirement({ scopes: ['admin'], claims: [{ claim: 'tenant', equals: 'acme' }] });
 * ```
 */
export function defineRequirement(spec: RequirementSpec): Requirement {
  // `requireScope()` with no scope would let every valid token through: a slip, not a policy
  // (a route open to any valid token needs no requirement at all).
  if (Array.isArray(spec.scopes) && spec.scopes.length === 0) {
    throw new ConfigurationError(
      '"scopes" is empty; name at least one scope (a route that any valid token may call needs no scope requirement)',
    );
  }
  const anyScopes = scopeList('anyScopes', spec.anyScopes);
  if (spec.anyScopes !== undefined && anyScopes.length === 0) {
    throw new ConfigurationError('"anyScopes" is empty; name at least one scope');
  }
  const audience =
    spec.audience === undefined
      ? []
      : typeof spec.audience === 'string'
        ? [spec.audience]
        : spec.audience;
  if (!Array.isArray(audience) || audience.some((a) => typeof a !== 'string' || a === '')) {
    throw new ConfigurationError('"audience" must be a string or an array of non-empty strings');
  }
  if (spec.dpop !== undefined && typeof spec.dpop !== 'boolean') {
    throw new ConfigurationError('"dpop" must be true or false');
  }
  const acr = spec.acr === undefined ? [] : typeof spec.acr === 'string' ? [spec.acr] : spec.acr;
  if (
    !Array.isArray(acr) ||
    (spec.acr !== undefined && acr.length === 0) ||
    acr.some((value) => typeof value !== 'string' || !SCOPE_TOKEN.test(value))
  ) {
    throw new ConfigurationError(
      '"acr" must name one or more authentication context classes (strings without spaces or quotes)',
    );
  }
  const maxAge = spec.maxAuthAgeSeconds;
  if (maxAge !== undefined && (!Number.isInteger(maxAge) || maxAge < 0)) {
    throw new ConfigurationError('"maxAuthAgeSeconds" must be a whole number of seconds ≥ 0');
  }
  return Object.freeze({
    dpop: spec.dpop === true,
    acrGroups: Object.freeze(acr.length > 0 ? [Object.freeze([...(acr as string[])])] : []),
    maxAuthAgeSeconds: maxAge,
    allScopes: scopeList('scopes', spec.scopes),
    anyScopeGroups: Object.freeze(anyScopes.length > 0 ? [anyScopes] : []),
    claims: Object.freeze((spec.claims ?? []).map(checkCondition)),
    audienceGroups: Object.freeze(
      audience.length > 0 ? [Object.freeze([...(audience as readonly string[])])] : [],
    ),
  });
}

/**
 * The condition behind the adapters' `requireClaim(name, expected)`: a function is a
 * predicate; a value must equal the claim, or be contained in it when the claim is an array.
 *
 * @example
 * ```ts
 * defineRequirement({ claims: [claimCondition('roles', 'admin')] });
 * ```
 */
export function claimCondition(
  claim: string,
  expected: ClaimValue | ClaimPredicate,
): ClaimCondition {
  return typeof expected === 'function'
    ? { claim, predicate: expected }
    : { claim, matches: expected };
}

/**
 * Combines requirements so that all of them apply (a controller's and a handler's).
 *
 * @example
 * ```ts
 * mergeRequirements(defineRequirement({ scopes: ['orders'] }), defineRequirement({ scopes: ['admin'] }));
 * ```
 */
export function mergeRequirements(...requirements: readonly Requirement[]): Requirement {
  return Object.freeze({
    allScopes: Object.freeze([...new Set(requirements.flatMap((r) => r.allScopes))]),
    anyScopeGroups: Object.freeze(requirements.flatMap((r) => r.anyScopeGroups)),
    claims: Object.freeze(requirements.flatMap((r) => r.claims)),
    audienceGroups: Object.freeze(requirements.flatMap((r) => r.audienceGroups)),
    dpop: requirements.some((r) => r.dpop),
    acrGroups: Object.freeze(requirements.flatMap((r) => r.acrGroups)),
    // Both apply, so the stricter (smaller) age wins.
    maxAuthAgeSeconds: requirements.reduce<number | undefined>(
      (min, r) =>
        r.maxAuthAgeSeconds === undefined
          ? min
          : Math.min(min ?? Number.POSITIVE_INFINITY, r.maxAuthAgeSeconds),
      undefined,
    ),
  });
}

function conditionHolds(
  condition: ClaimCondition,
  claims: Readonly<Record<string, unknown>>,
): boolean {
  const value = claims[condition.claim];
  if ('predicate' in condition) {
    try {
      return condition.predicate(value, claims) === true;
    } catch {
      // A predicate that throws on an unexpected claim shape denies; it never becomes a 500.
      return false;
    }
  }
  if ('equals' in condition) return value === condition.equals;
  if ('matches' in condition) {
    return (
      value === condition.matches || (Array.isArray(value) && value.includes(condition.matches))
    );
  }
  return Array.isArray(value) && value.includes(condition.includes);
}

// The acr values a client can be told to obtain: those every group accepts. Merged groups
// that share none leave nothing to advertise (and nothing passes).
function acceptableAcrValues(groups: readonly (readonly string[])[]): readonly string[] {
  const [first, ...rest] = groups;
  return (first ?? []).filter((value) => rest.every((group) => group.includes(value)));
}

// RFC 9470 §3: a token whose authentication is too weak or too old is answered with a
// challenge naming what would do, so the client can send the user back to authenticate.
// Both attributes are named whichever failed: one new authentication must meet both.
function checkStepUp(
  auth: AuthContext,
  requirement: Requirement,
  nowSeconds: number,
  toleranceSeconds: number,
): void {
  const { acrGroups, maxAuthAgeSeconds } = requirement;
  if (acrGroups.length === 0 && maxAuthAgeSeconds === undefined) return;
  const refuse = (failed: string): never => {
    throw new JwtGuardError('ERR_AUTHENTICATION_INSUFFICIENT', {
      requirement: failed,
      acrValues: acrGroups.length === 0 ? undefined : acceptableAcrValues(acrGroups),
      maxAgeSeconds: maxAuthAgeSeconds,
    });
  };
  const { acr, auth_time: authTime } = auth.claims as { acr?: unknown; auth_time?: unknown };
  for (const group of acrGroups) {
    if (typeof acr !== 'string' || !group.includes(acr)) refuse('acr');
  }
  if (maxAuthAgeSeconds === undefined) return;
  // OpenID Connect Core §2: a NumericDate. The clock tolerance applies as it does to `iat`:
  // the authorization server's clock is not ours. An authentication in the future cannot be
  // aged at all.
  if (typeof authTime !== 'number' || !Number.isFinite(authTime)) refuse('auth_time');
  const age = nowSeconds - (authTime as number);
  if (age > maxAuthAgeSeconds + toleranceSeconds || age < -toleranceSeconds) refuse('auth_time');
}

/**
 * Evaluates a requirement against a verified context; throws the exact refusal: 401 when a
 * DPoP-bound token is required, 401 `insufficient_user_authentication` for step-up, 403
 * `insufficient_scope` naming the scopes, 403 for a claim condition, 401 for an audience.
 * `nowSeconds` (default: now) is what authentication ages are measured against, with
 * `clockToleranceSeconds` (default 0; the guard passes its own) of skew either way.
 *
 * @example
 * ```ts
 * checkRequirement(req.auth, defineRequirement({ scopes: ['read:items'] }));
 * ```
 */
export function checkRequirement(
  auth: AuthContext,
  requirement: Requirement,
  nowSeconds: number = Date.now() / 1000,
  clockToleranceSeconds = 0,
): void {
  if (requirement.dpop) {
    const cnf = auth.claims.cnf as { jkt?: unknown } | undefined;
    // The guard accepts a token with `cnf.jkt` only with a valid proof for its key.
    if (typeof cnf?.jkt !== 'string') {
      throw new JwtGuardError('ERR_DPOP_REQUIRED', { requirement: 'dpop' });
    }
  }
  checkStepUp(auth, requirement, nowSeconds, clockToleranceSeconds);
  const { scopes } = auth;
  if (requirement.allScopes.some((scope) => !scopes.includes(scope))) {
    throw new JwtGuardError('ERR_SCOPE_INSUFFICIENT', {
      scope: requirement.allScopes,
      requirement: 'scope',
    });
  }
  for (const group of requirement.anyScopeGroups) {
    if (!group.some((scope) => scopes.includes(scope))) {
      throw new JwtGuardError('ERR_SCOPE_INSUFFICIENT', { scope: group, requirement: 'scope' });
    }
  }
  for (const group of requirement.audienceGroups) {
    const aud = auth.claims.aud;
    const list: readonly string[] = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!list.some((value) => group.includes(value))) {
      throw new JwtGuardError('ERR_AUDIENCE_INVALID', { requirement: 'audience' });
    }
  }
  for (const condition of requirement.claims) {
    if (!conditionHolds(condition, auth.claims)) {
      throw new JwtGuardError('ERR_CLAIM_MISMATCH', { requirement: `claim:${condition.claim}` });
    }
  }
}
