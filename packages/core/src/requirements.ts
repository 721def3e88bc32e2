import type { AuthContext } from './context.js';
import { ConfigurationError, JwtGuardError } from './errors.js';

/** A JSON value a claim can be compared with. */
export type ClaimValue = string | number | boolean;

/** Decides whether a claim value satisfies a route; receives the whole claims set too. */
export type ClaimPredicate = (value: unknown, claims: Readonly<Record<string, unknown>>) => boolean;

/** One claim condition of a route. */
export type ClaimCondition =
  | { readonly claim: string; readonly equals: ClaimValue }
  /** Equals the value, or for an array claim (`roles`, `groups`) contains it. */
  | { readonly claim: string; readonly matches: ClaimValue }
  | { readonly claim: string; readonly includes: ClaimValue }
  | { readonly claim: string; readonly predicate: ClaimPredicate };

/** What a route asks of a token, as written by users. */
export interface RequirementSpec {
  /** Every one of these scopes. */
  readonly scopes?: readonly string[];
  /** At least one of these scopes. */
  readonly anyScopes?: readonly string[];
  readonly claims?: readonly ClaimCondition[];
  /** The token's `aud` must contain one of these (on top of the guard's own audience). */
  readonly audience?: string | readonly string[];
}

/**
 * A validated, normalized route requirement: plain frozen data, evaluated by
 * {@link checkRequirement}, merged by {@link mergeRequirements}.
 */
export interface Requirement {
  readonly allScopes: readonly string[];
  /** Each group must be met by at least one of its scopes. */
  readonly anyScopeGroups: readonly (readonly string[])[];
  readonly claims: readonly ClaimCondition[];
  /** Each group must be met by the token's `aud`. */
  readonly audienceGroups: readonly (readonly string[])[];
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
  return Object.freeze({
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

/**
 * Evaluates a requirement against a verified context; throws the exact refusal: 403
 * `insufficient_scope` naming the scopes, 403 for a claim condition, 401 for an audience.
 *
 * @example
 * ```ts
 * checkRequirement(req.auth, defineRequirement({ scopes: ['read:items'] }));
 * ```
 */
export function checkRequirement(auth: AuthContext, requirement: Requirement): void {
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
