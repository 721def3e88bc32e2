import type { Algorithm } from '../algorithms.js';
import type { VerificationKey } from './key.js';

/**
 * Where the guard finds verification keys. Static keys and remote JWKS implement it; a user
 * may implement it too (an HSM, a secrets manager). The token's `kid` is only ever a lookup
 * key here, never a path, URL or query.
 *
 * @example
 * ```ts
 * const source: KeySource = createStaticKeySource(publicKeyPem, ['RS256']);
 * const keys = await source.select('key-1', 'RS256');
 * ```
 */
export interface KeySource {
  /**
   * The keys that may have signed a token with this `kid` and `alg`, in the order to try.
   * Throws (or rejects with) `ERR_KEY_NOT_FOUND` when none fits and `ERR_KEYS_UNAVAILABLE`
   * when the keys cannot be had. Answers synchronously when it can: the verification path
   * then runs without a turn of the event loop.
   */
  select(
    kid: string | undefined,
    algorithm: Algorithm,
  ): readonly VerificationKey[] | PromiseLike<readonly VerificationKey[]>;
  /** Whether the key is still published (a cached verification dies with its key). */
  has(key: VerificationKey): boolean;
  /** Loads the keys ahead of the first request; rejects when they cannot be had. */
  hydrate(): Promise<void>;
}

/**
 * An immutable snapshot of a key set, indexed for selection.
 *
 * @example
 * ```ts
 * const set: KeySet = createKeySet(imported);
 * const tried = set.candidates(header.kid, 'ES256');
 * ```
 */
export interface KeySet {
  readonly keys: readonly VerificationKey[];
  /** Matching keys: a key without `kid` matches any token; a token without `kid` any key. */
  candidates(kid: string | undefined, algorithm: Algorithm): readonly VerificationKey[];
  has(key: VerificationKey): boolean;
  /** Whether some key carries exactly this `kid`. */
  names(kid: string): boolean;
}

// A token without `kid` is tried against every fitting key; a bound keeps a crafted token from
// costing more than a few signature checks.
const MAX_CANDIDATES = 8;

/**
 * Indexes keys by `kid` into a {@link KeySet}.
 *
 * @example
 * ```ts
 * const set = createKeySet([keyA, keyB]);
 * set.candidates(undefined, 'RS256'); // every RS256 key, at most 8
 * ```
 */
export function createKeySet(keys: readonly VerificationKey[]): KeySet {
  const members = new Set(keys);
  const byKid = new Map<string, VerificationKey[]>();
  const withoutKid: VerificationKey[] = [];
  for (const key of keys) {
    if (key.kid === undefined) withoutKid.push(key);
    else byKid.set(key.kid, [...(byKid.get(key.kid) ?? []), key]);
  }
  return {
    keys,
    has: (key) => members.has(key),
    names: (kid) => byKid.has(kid),
    candidates(kid, algorithm) {
      const pool = kid === undefined ? keys : [...(byKid.get(kid) ?? []), ...withoutKid];
      const result: VerificationKey[] = [];
      for (const key of pool) {
        if (key.algorithms.includes(algorithm)) result.push(key);
        if (result.length === MAX_CANDIDATES) break;
      }
      return result;
    },
  };
}
