export {
  JwtGuardModule,
  type JwtGuardModuleAsyncOptions,
  type JwtGuardModuleExtras,
  type JwtGuardModuleOptions,
} from './jwt-guard.module.js';
export { JwtAuthGuard, type JwtGuardedRequest } from './jwt-auth.guard.js';
export { JwtGuardContextException, JwtGuardException } from './jwt-guard.exception.js';
export { InjectJwtGuard, JwtGuard } from './jwt-guard.token.js';
export {
  Auth,
  OneTimeToken,
  Public,
  RequireAcr,
  RequireAnyScope,
  RequireAuth,
  RequireAuthAge,
  RequireClaim,
  RequireDpop,
  RequireScope,
} from './jwt-guard.decorators.js';
export type { AuthContext, GuardOptions } from '@jwt-guard/core';
