import { JwtGuardError } from './errors.js';

/**
 * The registered claims of a JWT access token (RFC 7519 §4.1, RFC 9068 §2.2). Values are
 * typed as they are after validation.
 *
 * @example
 * ```ts
 * const claims: RegisteredClaims = {
 *   iss: 'https://idp.example/',
 *   sub: 'alice',
 *   aud: 'https://api.example/',
 *   exp: 1893456900,
 *   scope: 'read:items',
 * };
 * ```
 */
export interface RegisteredClaims {
  readonly iss: string;
  readonly sub?: string;
  readonly aud?: string | readonly string[];
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  readonly jti?: string;
  readonly client_id?: string;
  readonly scope?: string;
  readonly [claim: string]: unknown;
}

/**
 * Empty on purpose: merge your own claims into it and every `AuthContext` is typed with them.
 *
 * @example
 * ```ts
 * declare module '@jwt-guard/core' {
 *   interface AccessTokenClaims { tenant_id: string; roles?: string[] }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AccessTokenClaims {}

/**
 * The claims an `AuthContext` carries.
 *
 * @example
 * ```ts
 * function tenantOf(claims: Claims): string | undefined {
 *   return typeof claims.tenant_id === 'string' ? claims.tenant_id : undefined;
 * }
 * ```
 */
export type Claims = RegisteredClaims & AccessTokenClaims;

/**
 * The time and claim rules of one issuer, resolved from options.
 *
 * @example
 * ```ts
 * const policy: ClaimsPolicy = {
 *   audiences: new Set(['https://api.example/']),
 *   clockToleranceSeconds: 5,
 *   maxTokenAgeSeconds: undefined,
 *   maxLifetimeSeconds: 86_400,
 *   requireExp: true,
 *   requireIat: true,
 *   requireSub: true,
 *   strict: false,
 * };
 * ```
 */
export interface ClaimsPolicy {
  /** Accepted audiences; `null` when audience checks were explicitly disabled. */
  readonly audiences: ReadonlySet<string> | null;
  readonly clockToleranceSeconds: number;
  readonly maxTokenAgeSeconds: number | undefined;
  readonly maxLifetimeSeconds: number;
  readonly requireExp: boolean;
  readonly requireIat: boolean;
  readonly requireSub: boolean;
  /** RFC 9068 to the letter: `client_id` and `jti` required. */
  readonly strict: boolean;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function numericDate(
  claims: Record<string, unknown>,
  name: string,
  required: boolean,
): number | undefined {
  const value = claims[name];
  if (value === undefined) {
    if (required) throw new JwtGuardError('ERR_CLAIM_MISSING', { requirement: name });
    return undefined;
  }
  // RFC 7519 §2: a NumericDate is a JSON number; "1700000000", 1e400 (Infinity) are not.
  if (!isNumericDate(value)) throw new JwtGuardError('ERR_CLAIM_INVALID', { requirement: name });
  return value;
}

// A lone surrogate: JSON's `"\ud800"` escape allows it, but it is no Unicode text (RFC 8259
// §8.2), and identifiers holding one cannot be written to UTF-8 stores or logs faithfully.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function optionalString(claims: Record<string, unknown>, name: string, required: boolean): void {
  const value = claims[name];
  if (value === undefined) {
    if (required) throw new JwtGuardError('ERR_CLAIM_MISSING', { requirement: name });
  } else if (typeof value !== 'string' || LONE_SURROGATE.test(value)) {
    throw new JwtGuardError('ERR_CLAIM_INVALID', { requirement: name });
  }
}

/**
 * The checks that depend on the current time. They run on every request, also when the
 * verified-token cache answers, so a cached token dies at its `exp` to the second.
 *
 * @example
 * ```ts
 * checkTimeClaims(claims, policy, Date.now() / 1000);
 * ```
 */
export function checkTimeClaims(claims: Claims, policy: ClaimsPolicy, nowSeconds: number): void {
  const tolerance = policy.clockToleranceSeconds;
  const { exp, nbf, iat } = claims;
  // RFC 7519 §4.1.4: the current time must be before exp.
  if (exp !== undefined && nowSeconds - tolerance >= exp)
    throw new JwtGuardError('ERR_TOKEN_EXPIRED');
  // With exp opted out, the lifetime cap measured from iat is the expiry.
  if (
    exp === undefined &&
    iat !== undefined &&
    nowSeconds - tolerance >= iat + policy.maxLifetimeSeconds
  ) {
    throw new JwtGuardError('ERR_TOKEN_EXPIRED');
  }
  if (nbf !== undefined && nowSeconds + tolerance < nbf)
    throw new JwtGuardError('ERR_TOKEN_NOT_YET_VALID');
  if (iat !== undefined) {
    if (nowSeconds + tolerance < iat) throw new JwtGuardError('ERR_TOKEN_NOT_YET_VALID');
    if (
      policy.maxTokenAgeSeconds !== undefined &&
      nowSeconds - tolerance > iat + policy.maxTokenAgeSeconds
    ) {
      throw new JwtGuardError('ERR_TOKEN_TOO_OLD');
    }
  }
}

/**
 * Validates the claims set of a verified token: types of every registered claim, required
 * claims, exact audience, lifetime cap, and the time checks. Issuer is matched before the
 * signature is checked (it selects the keys) and is not repeated here.
 *
 * @example
 * ```ts
 * validateClaims(payloadObject, policy, Date.now() / 1000);
 * ```
 */
export function validateClaims(
  claims: Record<string, unknown>,
  policy: ClaimsPolicy,
  nowSeconds: number,
): Claims {
  const exp = numericDate(claims, 'exp', policy.requireExp);
  const iat = numericDate(claims, 'iat', policy.requireIat);
  numericDate(claims, 'nbf', false);
  optionalString(claims, 'sub', policy.requireSub);
  optionalString(claims, 'jti', policy.strict);
  optionalString(claims, 'client_id', policy.strict);
  checkAudience(claims.aud, policy.audiences);
  const start = iat ?? nowSeconds;
  if (exp !== undefined && exp - start > policy.maxLifetimeSeconds + policy.clockToleranceSeconds) {
    throw new JwtGuardError('ERR_LIFETIME_EXCEEDED');
  }
  const typed = claims as Claims;
  checkTimeClaims(typed, policy, nowSeconds);
  return typed;
}

/**
 * RFC 7519 §4.1.3: `aud` is a string or an array of strings, and the token is for us when one
 * of them equals (exactly) one of our audiences.
 *
 * @example
 * ```ts
 * const ours = new Set(['https://api.example/']);
 * checkAudience(['https://billing.example/', 'https://api.example/'], ours); // passes
 * checkAudience('https://api.example', ours); // throws ERR_AUDIENCE_INVALID
 * ```
 */
export function checkAudience(aud: unknown, accepted: ReadonlySet<string> | null): void {
  if (aud === undefined) {
    if (accepted !== null) throw new JwtGuardError('ERR_AUDIENCE_INVALID', { requirement: 'aud' });
    return;
  }
  const list = typeof aud === 'string' ? [aud] : aud;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((value) => typeof value === 'string')
  ) {
    throw new JwtGuardError('ERR_CLAIM_INVALID', { requirement: 'aud' });
  }
  if (accepted !== null && !list.some((value) => accepted.has(value))) {
    throw new JwtGuardError('ERR_AUDIENCE_INVALID', { requirement: 'aud' });
  }
}

/**
 * Freezes a parsed claims set so a handler cannot alter what the cache hands the next request.
 *
 * @example
 * ```ts
 * const claims = deepFreeze(parsed.value);
 * Object.isFrozen(claims.roles); // true
 * ```
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
