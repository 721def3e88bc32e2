import type { Middleware } from 'koa';
import { isJwtGuardError } from '@jwt-guard/core';

/**
 * The README's error handler: a refusal answers its status, every one of its headers, and
 * `{ error, code, message }`; anything else is thrown on to Koa's own onerror.
 *
 * @example
 * ```ts
 * app.use(renderAuthErrors);
 * app.use(jwtGuard(options));
 * app.use(router.routes());
 * ```
 */
export const renderAuthErrors: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    if (!isJwtGuardError(err)) throw err;
    ctx.status = err.status;
    ctx.set(err.headers);
    ctx.body = err;
  }
};
