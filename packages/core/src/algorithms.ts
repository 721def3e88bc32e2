/**
 * A JWS algorithm the guard can verify (RFC 7518 §3, RFC 8037 §3.1). `none` is not one.
 *
 * @example
 * ```ts
 * const algorithms: Algorithm[] = ['ES256', 'EdDSA'];
 * createGuard({ issuer, audience, algorithms });
 * ```
 */
export type Algorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'HS256'
  | 'HS384'
  | 'HS512';

/**
 * How an algorithm is computed; read only by the crypto module and key import.
 *
 * @example
 * ```ts
 * const es256: AlgorithmSpec = {
 *   family: 'EC',
 *   hash: 'sha256',
 *   hashBytes: 32,
 *   curve: 'prime256v1',
 *   signatureBytes: 64,
 * };
 * ```
 */
export interface AlgorithmSpec {
  readonly family: 'RSA' | 'PSS' | 'EC' | 'OKP' | 'HMAC';
  /** Digest name for node:crypto; `null` for EdDSA, which hashes internally. */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** Digest size in bytes: the PSS salt length (RFC 7518 §3.5) and the HMAC key minimum. */
  readonly hashBytes: number;
  /** Named curve for ES*, as node:crypto reports it. */
  readonly curve?: string;
  /** Exact raw r‖s signature size for ES* (RFC 7518 §3.4: not DER). */
  readonly signatureBytes?: number;
}

/**
 * The {@link AlgorithmSpec} of every supported algorithm.
 *
 * @example
 * ```ts
 * const { hash, hashBytes } = ALGORITHMS.PS256; // 'sha256', 32: the PSS salt length
 * ```
 */
export const ALGORITHMS: Readonly<Record<Algorithm, AlgorithmSpec>> = Object.freeze({
  RS256: { family: 'RSA', hash: 'sha256', hashBytes: 32 },
  RS384: { family: 'RSA', hash: 'sha384', hashBytes: 48 },
  RS512: { family: 'RSA', hash: 'sha512', hashBytes: 64 },
  PS256: { family: 'PSS', hash: 'sha256', hashBytes: 32 },
  PS384: { family: 'PSS', hash: 'sha384', hashBytes: 48 },
  PS512: { family: 'PSS', hash: 'sha512', hashBytes: 64 },
  ES256: { family: 'EC', hash: 'sha256', hashBytes: 32, curve: 'prime256v1', signatureBytes: 64 },
  ES384: { family: 'EC', hash: 'sha384', hashBytes: 48, curve: 'secp384r1', signatureBytes: 96 },
  ES512: { family: 'EC', hash: 'sha512', hashBytes: 64, curve: 'secp521r1', signatureBytes: 132 },
  EdDSA: { family: 'OKP', hash: null, hashBytes: 0 },
  HS256: { family: 'HMAC', hash: 'sha256', hashBytes: 32 },
  HS384: { family: 'HMAC', hash: 'sha384', hashBytes: 48 },
  HS512: { family: 'HMAC', hash: 'sha512', hashBytes: 64 },
});

/**
 * The algorithms accepted when `algorithms` is not configured: every asymmetric one.
 * HMAC is never a default: it needs an explicit secret and an explicit opt-in.
 *
 * @example
 * ```ts
 * createGuard({ issuer, audience, algorithms: DEFAULT_ALGORITHMS.filter((a) => a !== 'RS256') });
 * ```
 */
export const DEFAULT_ALGORITHMS: readonly Algorithm[] = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
]);

/**
 * Whether a string names a supported algorithm. Exact and case-sensitive: `none`, `None`,
 * `hs256` are not algorithms.
 *
 * @example
 * ```ts
 * isAlgorithm('ES256'); // true
 * isAlgorithm('none');  // false
 * ```
 */
export function isAlgorithm(value: unknown): value is Algorithm {
  return typeof value === 'string' && Object.hasOwn(ALGORITHMS, value);
}
