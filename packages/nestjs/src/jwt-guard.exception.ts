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

/**
 * `JwtAuthGuard`'s refusal of a call whose request it cannot read: an RPC, WebSocket or
 * GraphQL handler behind the guard with no `getRequest` override for that context (only HTTP
 * is read by default, because elsewhere the first argument is a message payload or a socket
 * that the caller shapes). It fails closed with a stable `code`; `message`, for your logs,
 * says what to override, and the body sent to an HTTP client carries no internal detail.
 *
 * @example
 * ```ts
 * @Catch(JwtGuardContextException)
 * class Misconfigured implements ExceptionFilter {
 *   catch(exception: JwtGuardContextException) { logger.error(exception.message); throw exception; }
 * }
 * ```
 */
export class JwtGuardContextException extends HttpException {
  /** The stable code of this refusal. */
  readonly code = 'ERR_CONTEXT_UNSUPPORTED';

  /** @param contextType the context the guard met (`rpc`, `ws`, `graphql`, …) */
  constructor(readonly contextType: string) {
    const code = 'ERR_CONTEXT_UNSUPPORTED';
    super(
      {
        statusCode: 500,
        error: 'server_error',
        code,
        message: 'The request cannot be authenticated',
      },
      500,
    );
    this.message = `JwtAuthGuard cannot read the request of a "${contextType}" context; override getRequest(context) to return it, or mark the handler @Public()`;
  }
}
