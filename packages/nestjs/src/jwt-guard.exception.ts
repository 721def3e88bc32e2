import { HttpException } from '@nestjs/common';
import type { ErrorCode, JwtGuardError } from '@jwt-guard/core';

/**
 * A guard refusal as Nest's exception layer knows it: the RFC 6750 status, a body
 * `{ statusCode, error, code, message }` of fixed texts, and the core error as `cause`.
 * `headers` holds the `WWW-Authenticate` challenge, which `JwtAuthGuard` has already set on
 * the HTTP response, so the default filter and your own filters send it as they are.
 *
 * @example
 * ```ts
 * @Catch(JwtGuardException)
 * class AuthFailures implements ExceptionFilter {
 *   catch(exception: JwtGuardException) { metrics.increment(exception.code); throw exception; }
 * }
 * ```
 */
export class JwtGuardException extends HttpException {
  /** The stable code (`ERR_TOKEN_EXPIRED`, …). */
  readonly code: ErrorCode;
  /** Headers of the refusal, notably `WWW-Authenticate`. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(error: JwtGuardError) {
    super({ statusCode: error.status, ...error.toJSON() }, error.status, { cause: error });
    this.code = error.code;
    this.headers = error.headers;
  }
}
