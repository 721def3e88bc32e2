import { Inject } from '@nestjs/common';
import type { AuthContext, Guard } from '@jwt-guard/core';

/**
 * The core guard that `JwtGuardModule` builds from its options: the injection token and its
 * type share this name, so `JwtGuard` names both what to ask for and what comes back.
 *
 * @example
 * ```ts
 * const guard = app.get<JwtGuard>(JwtGuard);
 * await guard.hydrate(); // fetch the keys before the first request
 * ```
 */
export const JwtGuard: unique symbol = Symbol('JwtGuard');
/** The core guard; `AuthContext | undefined` because `credentialsRequired: false` is allowed. */
export type JwtGuard = Guard<AuthContext | undefined>;

/**
 * Injects the module's core guard, to verify a token you hold (`verify`) or warm the keys.
 *
 * @example
 * ```ts
 * constructor(@InjectJwtGuard() private readonly guard: JwtGuard) {}
 * ```
 */
export function InjectJwtGuard(): PropertyDecorator & ParameterDecorator {
  return Inject(JwtGuard);
}
