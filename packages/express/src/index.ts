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
import type { NextFunction, Request, RequestHandler, Response } from 'express';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The verified token, set by `jwtGuard()`. Absent only for an anonymous request under
       * `credentialsRequired: false`.
       */
      auth: AuthContext;
    }
  }
}

const GUARD = Symbol.for('jwt-guard.express.guard');
type GuardedRequest = Request & { [GUARD]?: Guard<AuthContext | undefined> };

// Node's parsed `headers` keep only the first Authorization header; `rawHeaders` keep all,
// so core can refuse an ambiguous request.
function toGuardRequest(req: Request): GuardRequest {
  return {
    method: req.method,
    url: req.originalUrl,
    headers: req.rawHeaders,
    cookies: (req as { cookies?: Record<string, string> }).cookies,
  };
}

/**
 * Verifies the request's access token and sets `req.auth`; refusals go to `next(err)` with
 * `status`, `headers` (the RFC 6750 challenge) and `expose`, which Express's own error
 * handler renders as they are.
 *
 * @example
 * ```ts
 * const auth = jwtGuard({ issuer: 'https://idp.example/', audience: 'https://api.example/' });
 * await auth.guard.hydrate(); // optional: fetch the keys before serving
 * app.use(auth);
 * ```
 */
export function jwtGuard(options: GuardOptions): GuardMiddleware {
  const guard: Guard<AuthContext | undefined> = createGuard(options);
  const middleware = function jwtGuard(
    req: GuardedRequest,
    _res: Response,
    next: NextFunction,
  ): void {
    req[GUARD] = guard;
    guard.authenticate(toGuardRequest(req)).then((auth) => {
      if (auth !== undefined) req.auth = auth;
      next();
    }, next);
  };
  return Object.assign(middleware, { guard });
}

/** The middleware, with its guard for startup work (`await middleware.guard.hydrate()`). */
export type GuardMiddleware = RequestHandler & { readonly guard: Guard<AuthContext | undefined> };

function routeCheck(
  name: string,
  check: (guard: Guard<AuthContext | undefined>, req: Request) => void | Promise<void>,
): RequestHandler {
  const handler = (req: GuardedRequest, _res: Response, next: NextFunction): void => {
    const guard = req[GUARD];
    if (guard === undefined) {
      next(new Error(`${name}() needs app.use(jwtGuard(options)) (or the router's) before it`));
      return;
    }
    Promise.resolve()
      .then(() => check(guard, req))
      .then(() => next(), next);
  };
  Object.defineProperty(handler, 'name', { value: name });
  return handler;
}

function requirement(name: string, value: Requirement): RequestHandler {
  return routeCheck(name, (guard, req) => guard.authorize(req.auth, value));
}

/**
 * Lets a request through only if its token has every one of the scopes (exact match).
 *
 * @example
 * ```ts
 * app.post('/admin', requireScope('admin', 'write:items'), handler);
 * ```
 */
export function requireScope(...scopes: string[]): RequestHandler {
  return requirement('requireScope', defineRequirement({ scopes }));
}

/**
 * Lets a request through if its token has at least one of the scopes.
 *
 * @example
 * ```ts
 * app.get('/reports', requireAnyScope('reports:read', 'admin'), handler);
 * ```
 */
export function requireAnyScope(...scopes: string[]): RequestHandler {
  return requirement('requireAnyScope', defineRequirement({ anyScopes: scopes }));
}

/**
 * Lets a request through if a claim equals the value (or, for an array claim, contains it),
 * or if the predicate returns `true`.
 *
 * @example
 * ```ts
 * app.get('/acme', requireClaim('tenant', 'acme'), handler);
 * app.get('/staff', requireClaim('roles', (roles) => Array.isArray(roles) && roles.includes('staff')), handler);
 * ```
 */
export function requireClaim(name: string, expected: ClaimValue | ClaimPredicate): RequestHandler {
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
 * app.get('/partner', requireAuth(defineRequirement({ audience: 'https://partner.example/' })), handler);
 * ```
 */
export function requireAuth(value: Requirement): RequestHandler {
  return requirement('requireAuth', value);
}

/**
 * Accepts each token (its `jti`) only once on this route: a second use is 401
 * `ERR_TOKEN_REPLAYED`, a token without `jti` is refused. Uses the guard's `store`, so a
 * Redis store makes it hold across a fleet.
 *
 * @example
 * ```ts
 * app.post('/payments', requireScope('payments:write'), requireOneTimeToken(), handler);
 * ```
 */
export function requireOneTimeToken(routeName?: string): RequestHandler {
  return routeCheck('requireOneTimeToken', (guard, req) =>
    guard.consumeOnce(
      req.auth,
      routeName ??
        `${req.method} ${req.baseUrl}${(req.route as { path?: string } | undefined)?.path ?? req.path}`,
    ),
  );
}

export type { AuthContext, GuardOptions } from '@jwt-guard/core';
