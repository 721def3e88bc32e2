/**
 * The RFC 6749 §5.2 error codes the token endpoint answers with, plus RFC 8707 §2's
 * `invalid_target` and RFC 9449 §5's `invalid_dpop_proof`.
 *
 * @example
 * ```ts
 * const code: OAuthErrorCode = 'invalid_scope';
 * ```
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_dpop_proof';

/**
 * An RFC 6749 §5.2 error response body.
 *
 * @example
 * ```ts
 * const body: OAuthErrorBody = { error: 'invalid_client', error_description: 'client authentication failed' };
 * ```
 */
export interface OAuthErrorBody {
  readonly error: OAuthErrorCode;
  readonly error_description: string;
}

/**
 * A refusal as a value, so that the HTTP endpoint and in-process minting share one set of rules
 * and only differ in how they report it.
 *
 * @example
 * ```ts
 * const refusal = refuse('invalid_scope', 'requested scope is not allowed for this client');
 * ```
 */
export interface Refusal {
  readonly ok: false;
  readonly error: OAuthErrorCode;
  /** A fixed text per situation: never echoes a secret or other request input. */
  readonly description: string;
}

/**
 * Builds a {@link Refusal}.
 *
 * @example
 * ```ts
 * return refuse('invalid_request', 'grant_type is required');
 * ```
 */
export function refuse(error: OAuthErrorCode, description: string): Refusal {
  return { ok: false, error, description };
}

/**
 * Thrown by `DevIssuer.mint()` when the same request sent to `/token` would have been refused;
 * `code` is the OAuth error code `/token` would have answered with.
 *
 * @example
 * ```ts
 * try {
 *   await issuer.mint('catalog-reader', { scope: 'admin' });
 * } catch (error) {
 *   if (error instanceof DevIssuerError && error.code === 'invalid_scope') console.log('refused');
 * }
 * ```
 */
export class DevIssuerError extends Error {
  override readonly name = 'DevIssuerError';
  readonly code: OAuthErrorCode;

  constructor(code: OAuthErrorCode, description: string) {
    super(description);
    this.code = code;
  }
}
