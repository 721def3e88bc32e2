import type { ErrorRequestHandler } from 'express';
import { isJwtGuardError } from '@jwt-guard/core';

/**
 * The README's error handler: a refusal answers its status, every one of its headers, and
 * `{ error, code, message }`; anything else goes on to Express's own handler.
 *
 * @example
 * ```ts
 * app.use(jwtGuard(options));
 * app.get('/me', answer);
 * app.use(renderAuthErrors);
 * ```
 */
export const renderAuthErrors: ErrorRequestHandler = (err, _req, res, next) => {
  if (!isJwtGuardError(err)) {
    next(err);
    return;
  }
  res.status(err.status).set(err.headers).json(err);
};
