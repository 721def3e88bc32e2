import { buildChallenge, type ChallengeParams } from './challenge.js';

/**
 * Every way a request can be refused, with the RFC 6750 error it maps to, its HTTP status and
 * the fixed `error_description` sent to the client. The description never carries the token,
 * a claim value, key material or an internal message: it is chosen by code alone.
 */
const CATALOG = {
  ERR_TOKEN_MISSING: { status: 401, error: undefined, text: 'Authentication required' },
  ERR_AUTHORIZATION_MALFORMED: {
    status: 400,
    error: 'invalid_request',
    text: 'The Authorization header is malformed',
  },
  ERR_MULTIPLE_AUTHORIZATION: {
    status: 400,
    error: 'invalid_request',
    text: 'More than one Authorization header was sent',
  },
  ERR_MULTIPLE_TOKENS: {
    status: 400,
    error: 'invalid_request',
    text: 'The access token was sent by more than one method',
  },
  ERR_CROSS_SITE_REQUEST: {
    status: 403,
    error: undefined,
    text: 'Cookie credentials are refused on a cross-site request',
  },
  ERR_TOKEN_TOO_LARGE: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token is too large',
  },
  ERR_TOKEN_MALFORMED: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token is malformed',
  },
  ERR_HEADER_INVALID: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token header is not acceptable',
  },
  ERR_TYPE_INVALID: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token has the wrong type',
  },
  ERR_ALGORITHM_NOT_ALLOWED: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token algorithm is not allowed',
  },
  ERR_KEY_NOT_FOUND: {
    status: 401,
    error: 'invalid_token',
    text: 'No key is known for the access token',
  },
  ERR_SIGNATURE_INVALID: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token signature is invalid',
  },
  ERR_ISSUER_INVALID: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token issuer is not accepted',
  },
  ERR_AUDIENCE_INVALID: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token audience is not accepted',
  },
  ERR_TOKEN_EXPIRED: { status: 401, error: 'invalid_token', text: 'The access token expired' },
  ERR_TOKEN_NOT_YET_VALID: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token is not valid yet',
  },
  ERR_TOKEN_TOO_OLD: { status: 401, error: 'invalid_token', text: 'The access token is too old' },
  ERR_LIFETIME_EXCEEDED: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token lifetime is too long',
  },
  ERR_CLAIM_MISSING: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token lacks a required claim',
  },
  ERR_CLAIM_INVALID: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token has an invalid claim',
  },
  ERR_TOKEN_REVOKED: { status: 401, error: 'invalid_token', text: 'The access token was revoked' },
  ERR_TOKEN_REPLAYED: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token was already used',
  },
  ERR_DPOP_PROOF_MISSING: {
    status: 401,
    error: 'invalid_dpop_proof',
    text: 'A DPoP proof is required with a DPoP access token',
  },
  ERR_DPOP_PROOF_INVALID: {
    status: 401,
    error: 'invalid_dpop_proof',
    text: 'The DPoP proof is invalid',
  },
  ERR_DPOP_PROOF_REPLAYED: {
    status: 401,
    error: 'invalid_dpop_proof',
    text: 'The DPoP proof was already used',
  },
  ERR_DPOP_NONCE_REQUIRED: {
    status: 401,
    error: 'use_dpop_nonce',
    text: 'The DPoP proof must carry the nonce the server provided',
  },
  ERR_DPOP_BINDING_MISMATCH: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token is not bound to the key of the DPoP proof',
  },
  ERR_DPOP_REQUIRED: {
    status: 401,
    error: 'invalid_token',
    text: 'This resource requires a DPoP-bound access token',
  },
  ERR_CERTIFICATE_BINDING_MISMATCH: {
    status: 401,
    error: 'invalid_token',
    text: 'The access token is bound to another client certificate',
  },
  ERR_AUTHENTICATION_INSUFFICIENT: {
    status: 401,
    error: 'insufficient_user_authentication',
    text: 'A stronger or more recent user authentication is required',
  },
  ERR_SCOPE_INSUFFICIENT: {
    status: 403,
    error: 'insufficient_scope',
    text: 'The access token lacks a required scope',
  },
  ERR_CLAIM_MISMATCH: {
    status: 403,
    error: 'insufficient_scope',
    text: 'The access token does not meet the requirements of this resource',
  },
  ERR_KEYS_UNAVAILABLE: {
    status: 503,
    error: undefined,
    text: 'The signing keys are unavailable',
  },
  ERR_STORE_UNAVAILABLE: {
    status: 503,
    error: undefined,
    text: 'The token store is unavailable',
  },
} as const satisfies Record<string, { status: number; error: string | undefined; text: string }>;

// The body's `error` when the challenge has none: RFC 6749 §4.1.2.1 names for 403 and 503.
const FALLBACK_ERROR: Readonly<Record<number, string>> = {
  401: 'unauthorized',
  403: 'access_denied',
  503: 'temporarily_unavailable',
};

/**
 * The stable code of a request-time error; part of the public contract.
 *
 * @example
 * ```ts
 * function isOutage(code: ErrorCode): boolean {
 *   return code === 'ERR_KEYS_UNAVAILABLE' || code === 'ERR_STORE_UNAVAILABLE';
 * }
 * if (isJwtGuardError(err) && isOutage(err.code)) alerts.page('auth dependency down');
 * ```
 */
export type ErrorCode = keyof typeof CATALOG;

/**
 * The RFC 6750 §3.1 error attribute of a challenge.
 *
 * @example
 * ```ts
 * const error: BearerErrorCode | undefined = err.bearerError;
 * if (error === 'insufficient_user_authentication') redirectToLogin({ acr: 'urn:example:mfa' });
 * ```
 */
export type BearerErrorCode = NonNullable<(typeof CATALOG)[ErrorCode]['error']>;

/**
 * Every code of {@link ErrorCode}, for exhaustive tests and documentation tables.
 *
 * @example
 * ```ts
 * const table = ERROR_CODES.map((code) => `| ${code} | ${describeError(code).status} |`);
 * ```
 */
export const ERROR_CODES = Object.freeze(Object.keys(CATALOG) as ErrorCode[]);

/**
 * Extra facts an error may carry into its challenge; never claim values.
 *
 * @example
 * ```ts
 * throw new JwtGuardError('ERR_SCOPE_INSUFFICIENT', { scope: ['admin'], requirement: 'scope' });
 * ```
 */
export interface ErrorDetails {
  /** The scopes a route requires (for `insufficient_scope`). */
  readonly scope?: readonly string[] | undefined;
  /** The original error, kept for logs on the server side only. */
  readonly cause?: unknown;
  /** Which route requirement failed, for audit events. */
  readonly requirement?: string | undefined;
  /** RFC 9470 §3: the acceptable `acr` values of the route (step-up). */
  readonly acrValues?: readonly string[] | undefined;
  /** RFC 9470 §3: the route's maximum authentication age, in seconds (step-up). */
  readonly maxAgeSeconds?: number | undefined;
  /** How the refused token was presented, so the challenge names the same scheme. */
  readonly scheme?: 'Bearer' | 'DPoP' | undefined;
  /** A fresh RFC 9449 §9 nonce, sent as `DPoP-Nonce`. */
  readonly dpopNonce?: string | undefined;
}

/**
 * The one error class the guard throws at request time. `code` is stable and narrows in a
 * `switch`; `status`, `headers` and `expose` follow the `http-errors` convention, so the
 * default error handlers of Express and Koa render the RFC 6750 challenge as they are.
 *
 * @example
 * ```ts
 * try {
 *   await guard.authenticate(request);
 * } catch (err) {
 *   if (isJwtGuardError(err) && err.code === 'ERR_TOKEN_EXPIRED') refreshAndRetry();
 *   else throw err;
 * }
 * ```
 */
export class JwtGuardError extends Error {
  override readonly name: string = 'JwtGuardError';
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** HTTP status to answer with. */
  readonly status: number;
  /** Same as `status`, for frameworks that read `statusCode`. */
  readonly statusCode: number;
  /** Response headers, notably the RFC 6750 `WWW-Authenticate` challenge. */
  readonly headers: Readonly<Record<string, string>>;
  /** Whether `message` may be shown to the client (it is a fixed text in every case). */
  readonly expose: boolean;
  /** The RFC 6750 error attribute, when the challenge has one. */
  readonly bearerError: BearerErrorCode | undefined;
  /** The scopes the route required, for `insufficient_scope`. */
  readonly requiredScopes: readonly string[] | undefined;
  /** Which requirement failed (e.g. `scope`, `claim:tenant`); no claim values. */
  readonly requirement: string | undefined;

  readonly #details: ErrorDetails;

  constructor(code: ErrorCode, details: ErrorDetails = {}, challenge: ChallengeParams = {}) {
    const entry = CATALOG[code];
    super(entry.text, details.cause === undefined ? undefined : { cause: details.cause });
    this.#details = details;
    this.code = code;
    this.status = entry.status;
    this.statusCode = entry.status;
    this.expose = entry.status < 500;
    this.bearerError = entry.error;
    this.requiredScopes = details.scope;
    this.requirement = details.requirement;
    const headers: Record<string, string> = {};
    // RFC 6750 §3: a challenge on every 401, and on 400/403 when it names an error; a 503 or a
    // CSRF refusal is not an authentication problem and carries none.
    if (entry.status === 401 || entry.error !== undefined) {
      headers['WWW-Authenticate'] = buildChallenges(code, entry, details, challenge);
    }
    if (details.dpopNonce !== undefined) headers['DPoP-Nonce'] = details.dpopNonce;
    this.headers = Object.freeze(headers);
  }

  /**
   * The same error with a challenge that carries the deployment's attributes (realm,
   * resource metadata, DPoP algorithms) and facts of the request (its scheme, a fresh nonce);
   * the guard calls it once, on the way out.
   */
  withChallenge(challenge: ChallengeParams, details: ErrorDetails = {}): JwtGuardError {
    return new JwtGuardError(this.code, { ...this.#details, ...details }, challenge);
  }

  /** The body an API may send: code and fixed description, nothing from the request. */
  toJSON(): { error: string; code: ErrorCode; message: string } {
    return {
      error: this.bearerError ?? FALLBACK_ERROR[this.status] ?? 'unauthorized',
      code: this.code,
      message: this.message,
    };
  }
}

// The DPoP error codes of RFC 9449 §7.1 belong to the DPoP scheme's challenge.
const DPOP_ERRORS: ReadonlySet<string> = new Set(['invalid_dpop_proof', 'use_dpop_nonce']);

// RFC 9110 §11.6.1 allows several challenges in one header, comma-separated. The one naming
// the error comes first; the other scheme is offered bare, so a client learns both.
function buildChallenges(
  code: ErrorCode,
  entry: (typeof CATALOG)[ErrorCode],
  details: ErrorDetails,
  challenge: ChallengeParams,
): string {
  const dpop = challenge.dpopAlgorithms;
  // Where DPoP is required (the guard's mode, or the route refusing a bearer token), offering
  // Bearer would send the client down a path that cannot succeed.
  const bearer = dpop === undefined || (challenge.bearer !== false && code !== 'ERR_DPOP_REQUIRED');
  const errorScheme =
    dpop === undefined
      ? 'Bearer'
      : DPOP_ERRORS.has(entry.error ?? '') || !bearer
        ? 'DPoP'
        : (details.scheme ?? 'Bearer');
  const error = {
    error: entry.error,
    errorDescription: entry.error === undefined ? undefined : entry.text,
    scope: details.scope,
    acrValues: details.acrValues,
    maxAgeSeconds: details.maxAgeSeconds,
  };
  const base = { realm: challenge.realm, resourceMetadata: challenge.resourceMetadata };
  const values: string[] = [];
  if (bearer) values.push(buildChallenge({ ...base, ...(errorScheme === 'Bearer' ? error : {}) }));
  if (dpop !== undefined) {
    const value = buildChallenge({
      ...base,
      ...(errorScheme === 'DPoP' ? error : {}),
      scheme: 'DPoP',
      algs: dpop,
    });
    if (errorScheme === 'DPoP') values.unshift(value);
    else values.push(value);
  }
  return values.join(', ');
}

/**
 * Raised at construction when options are wrong; the message says how to fix them. Never
 * raised while serving a request.
 *
 * @example
 * ```ts
 * try { createGuard({ issuer: 'https://idp.example/' } as GuardOptions); }
 * catch (err) { if (err instanceof ConfigurationError) console.error(err.message); }
 * ```
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  readonly code = 'ERR_INVALID_OPTIONS' as const;
}

/**
 * True for any error the guard raised at request time, also across duplicate installs
 * (it checks the shape, not only `instanceof`).
 *
 * @example
 * ```ts
 * app.use((err, req, res, next) => isJwtGuardError(err) ? res.status(err.status).json(err) : next(err));
 * ```
 */
export function isJwtGuardError(value: unknown): value is JwtGuardError {
  if (value instanceof JwtGuardError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { name?: unknown; code?: unknown };
  return (
    candidate.name === 'JwtGuardError' &&
    typeof candidate.code === 'string' &&
    Object.hasOwn(CATALOG, candidate.code)
  );
}

/**
 * The fixed description of a code, for documentation and custom renderers.
 *
 * @example
 * ```ts
 * describeError('ERR_TOKEN_EXPIRED'); // { status: 401, error: 'invalid_token', text: 'The access token expired' }
 * ```
 */
export function describeError(code: ErrorCode): {
  status: number;
  error: BearerErrorCode | undefined;
  text: string;
} {
  return CATALOG[code];
}
