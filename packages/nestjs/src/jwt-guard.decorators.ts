import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  ConfigurationError,
  claimCondition,
  defineRequirement,
  mergeRequirements,
  type AuthContext,
  type ClaimPredicate,
  type ClaimValue,
  type Requirement,
} from '@jwt-guard/core';

/**
 * What a controller or handler asks of a token; read by `JwtAuthGuard`. Internal: not exported
 * from the package (the `@Require…` decorators write it).
 *
 * @example
 * ```ts
 * const defined = reflector.getAll(Requirements, [context.getClass(), context.getHandler()]);
 * ```
 */
export const Requirements = Reflector.createDecorator<Requirement>();

const reflector = new Reflector();

// Several requirement decorators on one target all apply: each merges into what is there
// (with `Reflector.createDecorator` alone, the last one would replace the others).
function requirement(value: Requirement): ClassDecorator & MethodDecorator {
  return (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder = (descriptor?.value as object | undefined) ?? target;
    const current = reflector.get(Requirements, holder as () => unknown);
    const merged = current === undefined ? value : mergeRequirements(value, current);
    const apply = Requirements(merged) as (...args: unknown[]) => void;
    apply(target, key, descriptor);
  };
}

/**
 * Requires every one of the scopes (exact match). On a controller it applies to all of its
 * handlers, together with theirs.
 *
 * @example
 * ```ts
 * @Delete(':id') @RequireScope('admin', 'write:items') remove() {}
 * ```
 */
export function RequireScope(...scopes: string[]): ClassDecorator & MethodDecorator {
  return requirement(defineRequirement({ scopes }));
}

/**
 * Requires at least one of the scopes.
 *
 * @example
 * ```ts
 * @Get('reports') @RequireAnyScope('reports:read', 'admin') reports() {}
 * ```
 */
export function RequireAnyScope(...scopes: string[]): ClassDecorator & MethodDecorator {
  return requirement(defineRequirement({ anyScopes: scopes }));
}

/**
 * Requires a claim to equal the value (or, for an array claim, to contain it), or the
 * predicate to return `true`.
 *
 * @example
 * ```ts
 * @Controller('acme') @RequireClaim('tenant', 'acme') class AcmeController {}
 * ```
 */
export function RequireClaim(
  name: string,
  expected: ClaimValue | ClaimPredicate,
): ClassDecorator & MethodDecorator {
  return requirement(defineRequirement({ claims: [claimCondition(name, expected)] }));
}

/**
 * Requires a requirement built with core's `defineRequirement` (scopes, claims, audience).
 *
 * @example
 * ```ts
 * @RequireAuth(defineRequirement({ audience: 'https://partner.example/' })) partner() {}
 * ```
 */
export function RequireAuth(value: Requirement): ClassDecorator & MethodDecorator {
  return requirement(value);
}

/**
 * Requires a DPoP-bound token with a valid proof (RFC 9449); a bearer token is 401
 * `ERR_DPOP_REQUIRED`. Needs the guard's `dpop` option.
 *
 * @example
 * ```ts
 * @Post('transfers') @RequireDpop() transfer() {}
 * ```
 */
export function RequireDpop(): ClassDecorator & MethodDecorator {
  return requirement(defineRequirement({ dpop: true }));
}

/**
 * Step-up (RFC 9470): requires the token's `acr` to be one of these; otherwise 401
 * `insufficient_user_authentication` with `acr_values`. On a controller and a handler, both
 * apply.
 *
 * @example
 * ```ts
 * @Post('payouts') @RequireAcr('urn:example:mfa', 'urn:example:hwk') payout() {}
 * ```
 */
export function RequireAcr(...acrValues: string[]): ClassDecorator & MethodDecorator {
  return requirement(defineRequirement({ acr: acrValues }));
}

/**
 * Step-up (RFC 9470): requires the user to have authenticated (`auth_time`) at most this many
 * seconds ago; otherwise 401 `insufficient_user_authentication` with `max_age`. On a controller
 * and a handler, the smaller age applies.
 *
 * @example
 * ```ts
 * @Put('password') @RequireAuthAge(300) changePassword() {}
 * ```
 */
export function RequireAuthAge(maxAgeSeconds: number): ClassDecorator & MethodDecorator {
  return requirement(defineRequirement({ maxAuthAgeSeconds: maxAgeSeconds }));
}

/**
 * Opens a route, or the routes of a controller, to callers without a token. On a handler it
 * lifts the controller's requirements and no token is read. On a controller it opens only the
 * handlers that ask for nothing themselves: one with `@RequireScope`, `@OneTimeToken()` or any
 * other requirement still needs a valid token that meets it.
 *
 * @example
 * ```ts
 * @Public() @Get('health') health() { return { ok: true }; }
 * ```
 */
export const Public = Reflector.createDecorator<undefined, true>({ transform: () => true });

/**
 * What `@OneTimeToken(scope?)` records; no scope is the one shared by every one-time route.
 *
 * @example
 * ```ts
 * const once = reflector.get(OneTimeToken, context.getHandler()); // { scope: 'payments' }
 * ```
 */
export interface OneTimeScope {
  readonly scope: string | undefined;
}

/**
 * Accepts each token (its `jti`) only once: once across every one-time route, or once per
 * `scope` where routes name one. A second use is 401 `ERR_TOKEN_REPLAYED`, a token without
 * `jti` is refused. Uses the guard's `store`, so a shared store makes it hold across a fleet.
 * On a controller it applies to every handler; a handler's own scope wins.
 *
 * @example
 * ```ts
 * @Post('payments') @RequireScope('payments:write') @OneTimeToken('payments') pay() {}
 * ```
 */
export const OneTimeToken = Reflector.createDecorator<string | undefined, OneTimeScope>({
  transform: (scope) => {
    // Checked when the class is defined: a wrong scope stops the application at startup rather
    // than quietly keying one-time tokens by "" or "[object Object]".
    if (scope !== undefined && (typeof scope !== 'string' || scope === '')) {
      throw new ConfigurationError(
        '@OneTimeToken(scope): the scope must be a non-empty string; omit it to share the one scope of every one-time route',
      );
    }
    return Object.freeze({ scope });
  },
});

/**
 * What `JwtAuthGuard` verified, by the request object it read the token from: `@Auth()` reads
 * only this, so an `auth` property that a middleware, a body or an RPC payload brought along
 * never passes for a verified token. Internal: not exported from the package.
 *
 * @example
 * ```ts
 * verifiedAuth.set(request, auth); // JwtAuthGuard, once the token is verified
 * ```
 */
export const verifiedAuth = new WeakMap<object, AuthContext | undefined>();

/**
 * The token `JwtAuthGuard` verified for this request (also at `request.auth`); `undefined` for
 * an anonymous caller under `credentialsRequired: false`, on a `@Public()` route, and where no
 * guard ran. In a GraphQL resolver, read `auth` from the request your `getRequest(context)`
 * returns.
 *
 * @example
 * ```ts
 * @Get('me') me(@Auth() auth: AuthContext) { return { sub: auth.subject }; }
 * ```
 */
export const Auth = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthContext | undefined =>
    verifiedAuth.get(context.switchToHttp().getRequest<object>()),
);
