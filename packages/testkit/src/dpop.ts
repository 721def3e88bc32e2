import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { signRaw } from './tokens.js';

/**
 * Algorithms a DPoP key can be made for.
 *
 * @example
 * ```ts
 * it.each<DpopAlgorithm>(['ES256', 'EdDSA', 'PS256'])('accepts a %s proof', async (alg) => {
 *   const key = await createDpopKey(alg);
 * });
 * ```
 */
export type DpopAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256';

/**
 * A client's DPoP key pair (RFC 9449 §2).
 *
 * @example
 * ```ts
 * const key: DpopKey = await createDpopKey('ES256');
 * const token = mint.sign(keys.ES256, { cnf: { jkt: key.thumbprint } });
 * key.publicJwk; // { kty: 'EC', crv: 'P-256', x: '…', y: '…' }
 * ```
 */
export interface DpopKey {
  readonly alg: DpopAlgorithm;
  readonly privateKey: KeyObject;
  /** The public JWK carried in the proof's `jwk` header: public members only. */
  readonly publicJwk: JWK;
  /** RFC 7638 SHA-256 thumbprint of `publicJwk`, base64url: the token's `cnf.jkt`. */
  readonly thumbprint: string;
}

/**
 * A member of a DPoP proof that {@link createDpopProof} can leave out.
 *
 * @example
 * ```ts
 * const members: DpopProofMember[] = ['typ', 'jwk', 'jti', 'htm', 'htu', 'iat', 'ath'];
 * it.each(members)('a proof without %s is refused', async (member) => {
 *   const proof = createDpopProof(key, { htm: 'GET', htu, accessToken, omit: [member] });
 * });
 * ```
 */
export type DpopProofMember = 'typ' | 'jwk' | 'jti' | 'htm' | 'htu' | 'iat' | 'ath';

/**
 * What a DPoP proof says; the overrides let a test build any malformed proof.
 *
 * @example
 * ```ts
 * const input: DpopProofInput = {
 *   htm: 'POST',
 *   htu: 'https://api.example/orders',
 *   accessToken,
 *   header: { typ: 'JWT' },
 * };
 * const wrongType = createDpopProof(key, input);
 * ```
 */
export interface DpopProofInput {
  /** HTTP method of the request, e.g. `GET`. */
  readonly htm: string;
  /** HTTP target URI of the request, without query and fragment. */
  readonly htu: string;
  /** The access token the proof goes with: sets `ath`. */
  readonly accessToken?: string;
  /** A server-provided nonce (RFC 9449 §8). */
  readonly nonce?: string;
  /** Default: now. */
  readonly iatSeconds?: number;
  /** Default: a random UUID. */
  readonly jti?: string;
  /** Members removed from the header (`typ`, `jwk`) or the claims. */
  readonly omit?: readonly DpopProofMember[];
  /** Header members merged last; `undefined` removes one (e.g. `{ typ: 'JWT' }`). */
  readonly header?: Record<string, unknown>;
  /** Claims merged last; `undefined` removes one. */
  readonly claims?: Record<string, unknown>;
  /** Signs with this key instead of the one whose public half is in `jwk`. */
  readonly signWith?: KeyObject;
}

function generatePair(alg: DpopAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ES384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    case 'RS256':
    case 'PS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

/**
 * Makes a fresh DPoP key pair with its public JWK and RFC 7638 thumbprint.
 *
 * @example
 * ```ts
 * const key = await createDpopKey();
 * const token = await server.requestToken({ clientId: 'svc', scope: 'read', dpopKey: key });
 * expect(token.claims.cnf).toEqual({ jkt: key.thumbprint });
 * ```
 */
export async function createDpopKey(alg: DpopAlgorithm = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = generatePair(alg);
  const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
  return { alg, privateKey, publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk) };
}

/**
 * The `ath` claim for an access token: base64url SHA-256 of its ASCII text (RFC 9449 §4.2).
 *
 * @example
 * ```ts
 * expect(payload.ath).toBe(dpopAth(accessToken));
 * ```
 */
export function dpopAth(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

function merge(
  base: Record<string, unknown>,
  omit: readonly string[],
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const result = { ...base };
  for (const name of omit) delete result[name];
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete result[name];
    else result[name] = value;
  }
  return result;
}

/**
 * Builds a DPoP proof JWT (RFC 9449 §4.2), well-formed by default. `omit`, `header`, `claims`
 * and `signWith` produce the malformed ones: a missing member, `typ: 'JWT'`, a private `jwk`,
 * a stale `iat`, a proof signed by another key than the one it carries.
 *
 * @example
 * ```ts
 * const proof = createDpopProof(key, { htm: 'GET', htu: `${origin}/items`, accessToken });
 * const stale = createDpopProof(key, { htm: 'GET', htu, accessToken, iatSeconds: 0 });
 * ```
 */
export function createDpopProof(key: DpopKey, input: DpopProofInput): string {
  const omit = input.omit ?? [];
  const header = merge({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk }, omit, input.header);
  const claims = merge(
    {
      jti: input.jti ?? randomUUID(),
      htm: input.htm,
      htu: input.htu,
      iat: input.iatSeconds ?? Math.floor(Date.now() / 1000),
      ...(input.accessToken === undefined ? {} : { ath: dpopAth(input.accessToken) }),
      ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
    },
    omit,
    input.claims,
  );
  // The header's alg (possibly overridden) drives the signature, as a forger's would.
  return signRaw(JSON.stringify(header), JSON.stringify(claims), {
    alg: typeof header.alg === 'string' ? header.alg : key.alg,
    key: input.signWith ?? key.privateKey,
  });
}
