import {
  ConfigurationError,
  createGuard,
  createResourceMetadataHandler,
  createRouteChecks,
  type AuthContext,
  type ClaimPredicate,
  type ClaimValue,
  type Guard,
  type GuardOptions,
  type GuardRequest,
  type Requirement,
  type RouteCheck,
  type RouteChecks,
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

/**
 * The middleware, with its guard for startup work (`await middleware.guard.hydrate()`).
 *
 * @example
 * ```ts
 * const auth: GuardMiddleware = jwtGuard({ issuer, audience });
 * await auth.guard.hydrate();
 * app.use(auth);
 * ```
 */
export type GuardMiddleware = RequestHandler & { readonly guard: Guard<AuthContext | undefined> };

// Node's parsed `headers` keep only the first Authorization header; `rawHeaders` keep all,
// so core can refuse an ambiguous request. For the same reason cookies come from the raw
// header, not from a cookie parser's `req.cookies`, which keeps one value per name. The
// socket carries the TLS client certificate of RFC 8705 certificate-bound tokens.
function toGuardRequest(req: Request): GuardRequest {
  return { method: req.method, url: req.originalUrl, headers: req.rawHeaders, socket: req.socket };
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
    res: Response,
    next: NextFunction,
  ): void {
    req[GUARD] = guard;
    guard.authenticate(toGuardRequest(req)).then((auth) => {
      // Always written, so nothing set before the guard can pass for a verified token.
      req.auth = auth as AuthContext;
      res.set(guard.responseHeaders(auth));
      next();
    }, next);
  };
  return Object.assign(middleware, { guard });
}

function toMiddleware(name: string, check: RouteCheck): RequestHandler {
  const middleware = (req: GuardedRequest, _res: Response, next: NextFunction): void => {
    const guard = req[GUARD];
    if (guard === undefined) {
      next(new Error(`${name}() needs app.use(jwtGuard(options)) (or the router's) before it`));
      return;
    }
    Promise.resolve()
      .then(() => check(guard, req.auth as AuthContext | undefined))
      .then(() => next(), next);
  };
  return Object.defineProperty(middleware, 'name', { value: name });
}

const checks: RouteChecks<RequestHandler> = createRouteChecks(toMiddleware);

/**
 * Lets a request through only if its token has every one of the scopes (exact match).
 *
 * @example
 * ```ts
 * app.post('/admin', requireScope('admin', 'write:items'), handler);
 * ```
 */
export const requireScope: (...scopes: string[]) => RequestHandler = checks.requireScope;

/**
 * Lets a request through if its token has at least one of the scopes.
 *
 * @example
 * ```ts
 * app.get('/reports', requireAnyScope('reports:read', 'admin'), handler);
 * ```
 */
export const requireAnyScope: (...scopes: string[]) => RequestHandler = checks.requireAnyScope;

/**
 * Lets a request through if a claim equals the value (or, for an array claim, contains it),
 * or if the predicate returns `true`.
 *
 * @example
 * ```ts
 * app.get('/acme', requireClaim('tenant', 'acme'), handler);
 * ```
 */
export const requireClaim: (name: string, expected: ClaimValue | ClaimPredicate) => RequestHandler =
  checks.requireClaim;

/**
 * Lets a request through if its token meets a requirement built with core's
 * `defineRequirement` (scopes, claims and audience together).
 *
 * @example
 * ```ts
 * app.get('/partner', requireAuth(defineRequirement({ audience: 'https://partner.example/' })), handler);
 * ```
 */
export const requireAuth: (requirement: Requirement) => RequestHandler = checks.requireAuth;

/**
 * Accepts each token (its `jti`) only once: once across every one-time route, or once per
 * `scope` where routes name one. A second use is 401 `ERR_TOKEN_REPLAYED`, a token without
 * `jti` is refused; method and URL play no part, so no spelling of the path replays it.
 * Uses the guard's `store`, so a shared store makes it hold across a fleet.
 *
 * @example
 * ```ts
 * app.post('/payments', requireScope('payments:write'), requireOneTimeToken(), handler);
 * ```
 */
export const requireOneTimeToken: (scope?: string) => RequestHandler = checks.requireOneTimeToken;

/**
 * Lets a request through only with a DPoP-bound token and a valid proof (RFC 9449); a bearer
 * token is 401 `ERR_DPOP_REQUIRED`. Needs the guard's `dpop` option.
 *
 * @example
 * ```ts
 * app.post('/transfers', requireDpop(), requireScope('transfers:write'), handler);
 * ```
 */
export const requireDpop: () => RequestHandler = checks.requireDpop;

/**
 * Step-up (RFC 9470): lets a request through if the token's `acr` is one of these; otherwise
 * 401 `insufficient_user_authentication` with `acr_values`, so the client can send the user
 * back to authenticate more strongly.
 *
 * @example
 * ```ts
 * app.post('/payouts', requireAcr('urn:example:mfa', 'urn:example:hwk'), handler);
 * ```
 */
export const requireAcr: (...acrValues: string[]) => RequestHandler = checks.requireAcr;

/**
 * Step-up (RFC 9470): lets a request through if the user authenticated (`auth_time`) at most
 * this many seconds ago; otherwise 401 `insufficient_user_authentication` with `max_age`.
 *
 * @example
 * ```ts
 * app.put('/password', requireAuthAge(300), handler);
 * ```
 */
export const requireAuthAge: (maxAgeSeconds: number) => RequestHandler = checks.requireAuthAge;

/**
 * Serves the guard's RFC 9728 protected-resource metadata (option `resourceMetadata`) to GET
 * and HEAD at its `/.well-known/oauth-protected-resource…` path, and passes every other request
 * on. Mount it on the app before the guard: clients read it without a token.
 *
 * @example
 * ```ts
 * const auth = jwtGuard({ issuer, audience, resourceMetadata: { resource: 'https://api.example/' } });
 * app.use(protectedResourceMetadata(auth));
 * app.use(auth);
 * ```
 */
export function protectedResourceMetadata(middleware: GuardMiddleware): RequestHandler {
  const metadata = middleware.guard.resourceMetadata;
  if (metadata === undefined) {
    throw new ConfigurationError(
      'protectedResourceMetadata(jwtGuard(options)) needs the "resourceMetadata" option, e.g. resourceMetadata: { resource: "https://api.example/" }',
    );
  }
  return createResourceMetadataHandler(metadata);
}

export type { AuthContext, GuardOptions } from '@jwt-guard/core';
