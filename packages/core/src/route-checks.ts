import type { AuthContext } from './context.js';
import type { Guard } from './guard.js';
import {
  claimCondition,
  defineRequirement,
  type ClaimPredicate,
  type ClaimValue,
  type Requirement,
} from './requirements.js';

/**
 * What a per-route check does, given the guard that authenticated the request, the request's
 * context (if any) and a way to name the route. Adapters run it inside their own middleware.
 */
export type RouteCheck = (
  guard: Guard<AuthContext | undefined>,
  auth: AuthContext | undefined,
  routeName: () => string,
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
  /** Each `jti` once on this route (`ERR_TOKEN_REPLAYED` after), named by pattern or `routeName`. */
  readonly requireOneTimeToken: (routeName?: string) => H;
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
    requireOneTimeToken: (routeName) =>
      toHandler('requireOneTimeToken', (guard, auth, route) =>
        guard.consumeOnce(auth, routeName ?? route()),
      ),
  };
}
