import {
  ConfigurationError,
  createGuard,
  createRouteChecks,
  isResourceMetadataRequest,
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
export type GuardMiddleware = Middleware & { readonly guard: Guard<AuthContext | undefined> };

// Node's parsed `headers` keep only the first Authorization header; `rawHeaders` keep all,
// so core can refuse an ambiguous request. The socket carries the TLS client certificate of
// RFC 8705 certificate-bound tokens.
function toGuardRequest(ctx: Context): GuardRequest {
  const { rawHeaders, socket } = ctx.req;
  return { method: ctx.method, url: ctx.originalUrl, headers: rawHeaders, socket };
}

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
    // Always written, so nothing set before the guard can pass for a verified token.
    ctx.state.auth = auth as AuthContext;
    ctx.set(guard.responseHeaders(auth));
    await next();
  };
  return Object.assign(middleware, { guard });
}

function toMiddleware(name: string, check: RouteCheck): Middleware {
  const middleware = async (ctx: GuardedContext, next: Next): Promise<void> => {
    const guard = ctx[GUARD];
    if (guard === undefined)
      throw new Error(`${name}() needs app.use(jwtGuard(options)) before it`);
    await check(guard, ctx.state.auth);
    await next();
  };
  return Object.defineProperty(middleware, 'name', { value: name });
}

const checks: RouteChecks<Middleware> = createRouteChecks(toMiddleware);

/**
 * Lets a request through only if its token has every one of the scopes (exact match).
 *
 * @example
 * ```ts
 * router.post('/admin', requireScope('admin', 'write:items'), handler);
 * ```
 */
export const requireScope: (...scopes: string[]) => Middleware = checks.requireScope;

/**
 * Lets a request through if its token has at least one of the scopes.
 *
 * @example
 * ```ts
 * router.get('/reports', requireAnyScope('reports:read', 'admin'), handler);
 * ```
 */
export const requireAnyScope: (...scopes: string[]) => Middleware = checks.requireAnyScope;

/**
 * Lets a request through if a claim equals the value (or, for an array claim, contains it),
 * or if the predicate returns `true`.
 *
 * @example
 * ```ts
 * router.get('/acme', requireClaim('tenant', 'acme'), handler);
 * ```
 */
export const requireClaim: (name: string, expected: ClaimValue | ClaimPredicate) => Middleware =
  checks.requireClaim;

/**
 * Lets a request through if its token meets a requirement built with core's
 * `defineRequirement` (scopes, claims and audience together).
 *
 * @example
 * ```ts
 * router.get('/partner', requireAuth(defineRequirement({ audience: 'https://partner.example/' })), handler);
 * ```
 */
export const requireAuth: (requirement: Requirement) => Middleware = checks.requireAuth;

/**
 * Accepts each token (its `jti`) only once: once across every one-time route, or once per
 * `scope` where routes name one. A second use is 401 `ERR_TOKEN_REPLAYED`, a token without
 * `jti` is refused; method and URL play no part, so no spelling of the path replays it.
 * Uses the guard's `store`, so a shared store makes it hold across a fleet.
 *
 * @example
 * ```ts
 * router.post('/payments', requireScope('payments:write'), requireOneTimeToken(), handler);
 * ```
 */
export const requireOneTimeToken: (scope?: string) => Middleware = checks.requireOneTimeToken;

/**
 * Lets a request through only with a DPoP-bound token and a valid proof (RFC 9449); a bearer
 * token is 401 `ERR_DPOP_REQUIRED`. Needs the guard's `dpop` option.
 *
 * @example
 * ```ts
 * router.post('/transfers', requireDpop(), requireScope('transfers:write'), handler);
 * ```
 */
export const requireDpop: () => Middleware = checks.requireDpop;

/**
 * Step-up (RFC 9470): lets a request through if the token's `acr` is one of these; otherwise
 * 401 `insufficient_user_authentication` with `acr_values`, so the client can send the user
 * back to authenticate more strongly.
 *
 * @example
 * ```ts
 * router.post('/payouts', requireAcr('urn:example:mfa', 'urn:example:hwk'), handler);
 * ```
 */
export const requireAcr: (...acrValues: string[]) => Middleware = checks.requireAcr;

/**
 * Step-up (RFC 9470): lets a request through if the user authenticated (`auth_time`) at most
 * this many seconds ago; otherwise 401 `insufficient_user_authentication` with `max_age`.
 *
 * @example
 * ```ts
 * router.put('/password', requireAuthAge(300), handler);
 * ```
 */
export const requireAuthAge: (maxAgeSeconds: number) => Middleware = checks.requireAuthAge;

/**
 * Serves the guard's RFC 9728 protected-resource metadata (option `resourceMetadata`) to GET
 * and HEAD at its `/.well-known/oauth-protected-resource…` path, and passes every other request
 * on. Use it before the guard: clients read it without a token.
 *
 * @example
 * ```ts
 * const auth = jwtGuard({ issuer, audience, resourceMetadata: { resource: 'https://api.example/' } });
 * app.use(protectedResourceMetadata(auth));
 * app.use(auth);
 * ```
 */
export function protectedResourceMetadata(middleware: GuardMiddleware): Middleware {
  const metadata = middleware.guard.resourceMetadata;
  if (metadata === undefined) {
    throw new ConfigurationError(
      'protectedResourceMetadata(jwtGuard(options)) needs the "resourceMetadata" option, e.g. resourceMetadata: { resource: "https://api.example/" }',
    );
  }
  return async function protectedResourceMetadata(ctx: Context, next: Next): Promise<void> {
    if (!isResourceMetadataRequest(metadata, ctx.method, ctx.url)) {
      await next();
      return;
    }
    // Koa keeps a Content-Type that is already set, and sends no body to HEAD.
    ctx.set(metadata.headers);
    ctx.body = metadata.body;
  };
}

export type { AuthContext, GuardOptions } from '@jwt-guard/core';
