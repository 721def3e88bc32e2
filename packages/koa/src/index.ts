import {
  claimCondition,
  createGuard,
  defineRequirement,
  type AuthContext,
  type ClaimPredicate,
  type ClaimValue,
  type Guard,
  type GuardOptions,
  type GuardRequest,
  type Requirement,
} from '@jwt-guard/core';
import type { Context, Middleware, Next } from 'koa';

declare module 'koa' {
  interface DefaultState {
    /**
     * The verified token, set by `jwtGuard()`. Absent only for an anonymous request under
     * `credentialsRequired: false`.
     */
    auth: AuthContext;
  }
}

const GUARD = Symbol.for('jwt-guard.koa.guard');
type GuardedContext = Context & { [GUARD]?: Guard<AuthContext | undefined> };

// Node's parsed `headers` keep only the first Authorization header; `rawHeaders` keep all,
// so core can refuse an ambiguous request.
function toGuardRequest(ctx: Context): GuardRequest {
  return { method: ctx.method, url: ctx.originalUrl, headers: ctx.req.rawHeaders };
}

/** The middleware, with its guard for startup work (`await middleware.guard.hydrate()`). */
export type GuardMiddleware = Middleware & { readonly guard: Guard<AuthContext | undefined> };

/**
 * Verifies the request's access token and sets `ctx.state.auth`; refusals are thrown with
 * `status`, `headers` (the RFC 6750 challenge) and `expose`, which Koa's own `onerror`
 * renders as they are.
 *
 * @example
 * ```ts
 * app.use(jwtGuard({ issuer: 'https://idp.example/', audience: 'https://api.example/' }));
 * ```
 */
export function jwtGuard(options: GuardOptions): GuardMiddleware {
  const guard: Guard<AuthContext | undefined> = createGuard(options);
  const middleware = async function jwtGuard(ctx: GuardedContext, next: Next): Promise<void> {
    ctx[GUARD] = guard;
    const auth = await guard.authenticate(toGuardRequest(ctx));
    if (auth !== undefined) ctx.state.auth = auth;
    await next();
  };
  return Object.assign(middleware, { guard });
}

function routeCheck(
  name: string,
  check: (guard: Guard<AuthContext | undefined>, ctx: Context) => void | Promise<void>,
): Middleware {
  const middleware = async (ctx: GuardedContext, next: Next): Promise<void> => {
    const guard = ctx[GUARD];
    if (guard === undefined)
      throw new Error(`${name}() needs app.use(jwtGuard(options)) before it`);
    await check(guard, ctx);
    await next();
  };
  Object.defineProperty(middleware, 'name', { value: name });
  return middleware;
}

function requirement(name: string, value: Requirement): Middleware {
  return routeCheck(name, (guard, ctx) => guard.authorize(ctx.state.auth, value));
}

/**
 * Lets a request through only if its token has every one of the scopes (exact match).
 *
 * @example
 * ```ts
 * router.post('/admin', requireScope('admin', 'write:items'), handler);
 * ```
 */
export function requireScope(...scopes: string[]): Middleware {
  return requirement('requireScope', defineRequirement({ scopes }));
}

/**
 * Lets a request through if its token has at least one of the scopes.
 *
 * @example
 * ```ts
 * router.get('/reports', requireAnyScope('reports:read', 'admin'), handler);
 * ```
 */
export function requireAnyScope(...scopes: string[]): Middleware {
  return requirement('requireAnyScope', defineRequirement({ anyScopes: scopes }));
}

/**
 * Lets a request through if a claim equals the value (or, for an array claim, contains it),
 * or if the predicate returns `true`.
 *
 * @example
 * ```ts
 * router.get('/acme', requireClaim('tenant', 'acme'), handler);
 * ```
 */
export function requireClaim(name: string, expected: ClaimValue | ClaimPredicate): Middleware {
  return requirement(
    'requireClaim',
    defineRequirement({ claims: [claimCondition(name, expected)] }),
  );
}

/**
 * Lets a request through if its token meets a requirement built with core's
 * `defineRequirement` (scopes, claims, audience together).
 *
 * @example
 * ```ts
 * router.get('/partner', requireAuth(defineRequirement({ audience: 'https://partner.example/' })), handler);
 * ```
 */
export function requireAuth(value: Requirement): Middleware {
  return requirement('requireAuth', value);
}

/**
 * Accepts each token (its `jti`) only once on this route: a second use is 401
 * `ERR_TOKEN_REPLAYED`, a token without `jti` is refused. Uses the guard's `store`.
 *
 * @example
 * ```ts
 * router.post('/payments', requireScope('payments:write'), requireOneTimeToken(), handler);
 * ```
 */
export function requireOneTimeToken(routeName?: string): Middleware {
  return routeCheck('requireOneTimeToken', (guard, ctx) =>
    guard.consumeOnce(
      ctx.state.auth,
      // @koa/router records the matched pattern; without a router the path names the route.
      routeName ?? `${ctx.method} ${(ctx as { _matchedRoute?: string })._matchedRoute ?? ctx.path}`,
    ),
  );
}

export type { AuthContext, GuardOptions } from '@jwt-guard/core';
