import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  claimCondition,
  defineRequirement,
  mergeRequirements,
  type AuthContext,
  type ClaimPredicate,
  type ClaimValue,
  type Requirement,
} from '@jwt-guard/core';

/** What a controller or handler asks of a token; read by `JwtAuthGuard`. */
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
 * Serves a route, or every route of a controller, without the guard: no token is read, and
 * the controller's requirements do not apply.
 *
 * @example
 * ```ts
 * @Public() @Get('health') health() { return { ok: true }; }
 * ```
 */
export const Public = Reflector.createDecorator<undefined, true>({ transform: () => true });

/**
 * Accepts each token (its `jti`) only once on this handler: a second use is 401
 * `ERR_TOKEN_REPLAYED`, a token without `jti` is refused. Uses the guard's `store`.
 *
 * @example
 * ```ts
 * @Post('payments') @RequireScope('payments:write') @OneTimeToken() pay() {}
 * ```
 */
export const OneTimeToken = Reflector.createDecorator<undefined, true>({ transform: () => true });

/**
 * The verified token of an HTTP request (`request.auth`); `undefined` for an anonymous
 * caller under `credentialsRequired: false`. In other contexts, read `auth` from the request
 * your `getRequest(context)` returns.
 *
 * @example
 * ```ts
 * @Get('me') me(@Auth() auth: AuthContext) { return { sub: auth.subject }; }
 * ```
 */
export const Auth = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthContext | undefined =>
    context.switchToHttp().getRequest<{ auth?: AuthContext }>().auth,
);
