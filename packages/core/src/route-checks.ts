import type { AuthContext } from './context.js';
import { ConfigurationError } from './errors.js';
import type { Guard } from './guard.js';
import {
  claimCondition,
  defineRequirement,
  type ClaimPredicate,
  type ClaimValue,
  type Requirement,
} from './requirements.js';

/**
 * What a per-route check does, given the guard that authenticated the request and the
 * request's context (if any). Adapters run it inside their own middleware.
 *
 * @example
 * ```ts
 * const check: RouteCheck = (guard, auth) => guard.authorize(auth, requirement);
 * ```
 */
export type RouteCheck = (
  guard: Guard<AuthContext | undefined>,
  auth: AuthContext | undefined,
) => void | Promise<void>;

/**
 * The per-route middleware factories every adapter exports, typed for its framework.
 *
 * @example
 * ```ts
 * const checks: RouteChecks<RequestHandler> = createRouteChecks(toExpressMiddleware);
 * export const requireScope: (...scopes: string[]) => RequestHandler = checks.requireScope;
 * ```
 */
export interface RouteChecks<H> {
  /** Every one of the scopes (exact match). */
  readonly requireScope: (...scopes: string[]) => H;
  /** At least one of the scopes. */
  readonly requireAnyScope: (...scopes: string[]) => H;
  /** The claim equals the value (or, for an array claim, contains it), or the predicate holds. */
  readonly requireClaim: (name: string, expected: ClaimValue | ClaimPredicate) => H;
  /** A requirement built with `defineRequirement`. */
  readonly requireAuth: (requirement: Requirement) => H;
  /**
   * Each `jti` once (`ERR_TOKEN_REPLAYED` after): once across every one-time route, or once
   * per `scope` where routes name one (`requireOneTimeToken('payments')`).
   */
  readonly requireOneTimeToken: (scope?: string) => H;
  /** Only a DPoP-bound token with a valid proof (RFC 9449); a bearer token is 401. */
  readonly requireDpop: () => H;
  /**
   * Step-up (RFC 9470): the token's `acr` is one of these, else 401
   * `insufficient_user_authentication` with `acr_values`.
   */
  readonly requireAcr: (...acrValues: string[]) => H;
  /**
   * Step-up (RFC 9470): the user authenticated (`auth_time`) at most this many seconds ago,
   * else 401 `insufficient_user_authentication` with `max_age`.
   */
  readonly requireAuthAge: (maxAgeSeconds: number) => H;
}

/**
 * Builds the per-route factories once, in core, for an adapter that only says how to run a
 * {@link RouteCheck} in its framework. Requirements are validated here, when the route is
 * defined, so a bad scope fails at startup.
 *
 * @example
 * ```ts
 * const checks = createRouteChecks<Middleware>((name, check) => koaMiddleware(name, check));
 * ```
 */
export function createRouteChecks<H>(
  toHandler: (name: string, check: RouteCheck) => H,
): RouteChecks<H> {
  const requirement = (name: string, value: Requirement): H =>
    toHandler(name, (guard, auth) => guard.authorize(auth, value));
  return {
    requireScope: (...scopes) => requirement('requireScope', defineRequirement({ scopes })),
    requireAnyScope: (...scopes) =>
      requirement('requireAnyScope', defineRequirement({ anyScopes: scopes })),
    requireClaim: (name, expected) =>
      requirement('requireClaim', defineRequirement({ claims: [claimCondition(name, expected)] })),
    requireAuth: (value) => requirement('requireAuth', value),
    requireOneTimeToken: (scope) => {
      if (scope !== undefined && (typeof scope !== 'string' || scope === '')) {
        throw new ConfigurationError(
          'requireOneTimeToken(scope): the scope must be a non-empty string',
        );
      }
      return toHandler('requireOneTimeToken', (guard, auth) => guard.consumeOnce(auth, scope));
    },
    requireDpop: () => requirement('requireDpop', defineRequirement({ dpop: true })),
    requireAcr: (...acrValues) => requirement('requireAcr', defineRequirement({ acr: acrValues })),
    requireAuthAge: (maxAgeSeconds) =>
      requirement('requireAuthAge', defineRequirement({ maxAuthAgeSeconds: maxAgeSeconds })),
  };
}
