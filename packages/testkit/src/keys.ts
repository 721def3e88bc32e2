import { createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';

/**
 * Every algorithm the guard verifies.
 *
 * @example
 * ```ts
 * const algorithms: readonly TestAlgorithm[] = ['RS256', 'ES256', 'EdDSA', 'HS256'];
 * createGuard({ issuer, audience, algorithms, keys: algorithms.map((alg) => keys[alg].jwk) });
 * ```
 */
export type TestAlgorithm =
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
 * Every {@link TestAlgorithm}.
 *
 * @example
 * ```ts
 * it.each(ALL_ALGORITHMS)('%s tokens verify', async (alg) => {
 *   await expect(guard.verify(mint.sign(keys[alg]))).resolves.toBeDefined();
 * });
 * ```
 */
export const ALL_ALGORITHMS: readonly TestAlgorithm[] = [
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
  'HS256',
  'HS384',
  'HS512',
];

/**
 * The algorithms with a public key (every one but HS*): those a JWKS can publish.
 *
 * @example
 * ```ts
 * const server = await startKeyServer({ keys: ASYMMETRIC_ALGORITHMS.map((alg) => keys[alg]) });
 * ```
 */
export const ASYMMETRIC_ALGORITHMS: readonly TestAlgorithm[] = ALL_ALGORITHMS.filter(
  (a) => !a.startsWith('HS'),
);

/**
 * A signing key for tests: the private half signs, the public half (or secret) verifies.
 *
 * @example
 * ```ts
 * const key: TestKey = createTestKey('RS256', { kid: 'rotated' });
 * createGuard({ issuer, audience, keys: key.publicPem! });
 * ```
 */
export interface TestKey {
  readonly alg: TestAlgorithm;
  readonly kid: string;
  /** Signs: a private KeyObject, or the secret for HS*. */
  readonly signingKey: KeyObject;
  /** Verifies: the public KeyObject, or the secret for HS*. */
  readonly verificationKey: KeyObject;
  /** The public JWK with `kid`, `alg`, `use` (for HS*: the oct JWK). */
  readonly jwk: Record<string, unknown>;
  /** SPKI PEM of the public key (undefined for HS*). */
  readonly publicPem: string | undefined;
}

let serial = 0;

function pairFor(
  alg: TestAlgorithm,
  rsaBits: number,
): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg.slice(0, 2)) {
    case 'RS':
    case 'PS':
      return generateKeyPairSync('rsa', { modulusLength: rsaBits });
    case 'ES':
      return generateKeyPairSync('ec', {
        namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg as 'ES256'],
      });
    default:
      return generateKeyPairSync('ed25519');
  }
}

/**
 * Makes a fresh key for one algorithm. RSA keys are 2048 bits unless `rsaBits` says
 * otherwise (tests of the weak-key refusal ask for 1024).
 *
 * @example
 * ```ts
 * const key = createTestKey('ES256');
 * ```
 */
export function createTestKey(
  alg: TestAlgorithm,
  options: { kid?: string; rsaBits?: number; secretBytes?: number } = {},
): TestKey {
  const kid = options.kid ?? `${alg.toLowerCase()}-${++serial}`;
  if (alg.startsWith('HS')) {
    const secret = createSecretKey(randomBytes(options.secretBytes ?? 64));
    const jwk = {
      ...(secret.export({ format: 'jwk' }) as Record<string, unknown>),
      kid,
      alg,
      use: 'sig',
    };
    return { alg, kid, signingKey: secret, verificationKey: secret, jwk, publicPem: undefined };
  }
  const { privateKey, publicKey } = pairFor(alg, options.rsaBits ?? 2048);
  const jwk = {
    ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>),
    kid,
    alg,
    use: 'sig',
  };
  return {
    alg,
    kid,
    signingKey: privateKey,
    verificationKey: publicKey,
    jwk,
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }) as string,
  };
}

const shared = new Map<TestAlgorithm, TestKey>();

/**
 * One key per algorithm, made once per test process (RSA generation is slow).
 *
 * @example
 * ```ts
 * const { ES256, RS256 } = testKeys();
 * ```
 */
export function testKeys(): Readonly<Record<TestAlgorithm, TestKey>> {
  for (const alg of ALL_ALGORITHMS) {
    if (!shared.has(alg)) shared.set(alg, createTestKey(alg, { kid: `test-${alg.toLowerCase()}` }));
  }
  return Object.fromEntries(shared) as Record<TestAlgorithm, TestKey>;
}

/**
 * A JWKS document holding the public JWKs of the given keys.
 *
 * @example
 * ```ts
 * createGuard({ issuer, audience, keys: jwksOf([keys.ES256, keys.RS256]) });
 * ```
 */
export function jwksOf(keys: readonly TestKey[]): { keys: Record<string, unknown>[] } {
  return { keys: keys.map((key) => ({ ...key.jwk })) };
}
