import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/**
 * The signing algorithms a dev client can choose between.
 *
 * @example
 * ```ts
 * const alg: DevSigningAlgorithm = 'RS256';
 * ```
 */
export type DevSigningAlgorithm = 'ES256' | 'RS256';

/**
 * One private signing key and the identifiers its tokens carry in their header.
 *
 * @example
 * ```ts
 * const { kid, alg, privateKey } = keys.forAlgorithm('ES256');
 * ```
 */
export interface SigningKey {
  readonly alg: DevSigningAlgorithm;
  /** The RFC 7638 thumbprint of the public JWK. */
  readonly kid: string;
  readonly privateKey: CryptoKey;
}

/**
 * The issuer's key pairs: one per supported algorithm, generated at start and never persisted.
 *
 * @example
 * ```ts
 * const keys = await createSigningKeys();
 * res.end(JSON.stringify(keys.jwks));
 * ```
 */
export interface SigningKeys {
  /** The public halves only, as served at `/jwks.json`. */
  readonly jwks: { readonly keys: readonly JWK[] };
  forAlgorithm(alg: DevSigningAlgorithm): SigningKey;
}

/**
 * The algorithms the issuer holds a key for, in the order the JWKS lists them.
 *
 * @example
 * ```ts
 * SIGNING_ALGORITHMS.includes('ES256'); // true
 * ```
 */
export const SIGNING_ALGORITHMS: readonly DevSigningAlgorithm[] = Object.freeze(['ES256', 'RS256']);

/**
 * Generates one ES256 (P-256) and one RS256 (2048-bit) key pair.
 *
 * @example
 * ```ts
 * const keys = await createSigningKeys();
 * const { kid } = keys.forAlgorithm('RS256');
 * ```
 */
export async function createSigningKeys(): Promise<SigningKeys> {
  const generated = await Promise.all(SIGNING_ALGORITHMS.map((alg) => createSigningKey(alg)));
  const byAlgorithm = new Map(generated.map(({ key }) => [key.alg, key]));
  const jwks = Object.freeze({ keys: Object.freeze(generated.map(({ publicJwk }) => publicJwk)) });

  return {
    jwks,
    forAlgorithm(alg) {
      const key = byAlgorithm.get(alg);
      if (key === undefined) throw new TypeError(`no signing key for "${alg}"`);
      return key;
    },
  };
}

async function createSigningKey(
  alg: DevSigningAlgorithm,
): Promise<{ key: SigningKey; publicJwk: JWK }> {
  // The private key stays non-extractable: nothing in this process can leak it as a JWK.
  const { privateKey, publicKey } = await generateKeyPair(alg, { modulusLength: 2048 });
  const exported = await exportJWK(publicKey);
  // RFC 7638 thumbprints make the kid stable for a key and unique across keys, with no counter.
  const kid = await calculateJwkThumbprint(exported, 'sha256');
  // `alg` and `use` let a verifier pin each key to one algorithm (RFC 8725 §3.1).
  const publicJwk: JWK = Object.freeze({ ...exported, kid, alg, use: 'sig' });
  return { key: Object.freeze({ alg, kid, privateKey }), publicJwk };
}
