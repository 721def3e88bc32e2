import { ALGORITHMS, type Algorithm } from '../algorithms.js';
import {
  createSignatureCheck,
  keyFacts,
  keyFromJwk,
  keyFromPem,
  type KeyObject,
  type SignatureCheck,
} from '../node-crypto.js';

/**
 * A key ready to verify: its `kid`, the algorithms it may be used with (fixed at import from
 * the key itself and the configuration, never from a token) and one prepared check per
 * algorithm.
 *
 * @example
 * ```ts
 * // A key held by an HSM, for a custom KeySource: `verify` answers a literal boolean.
 * const hsmKey: VerificationKey = {
 *   kid: 'hsm-1',
 *   algorithms: ['ES256'],
 *   verify: (alg, signingInput, signature) => hsm.verifySync('hsm-1', signingInput, signature),
 * };
 * ```
 */
export interface VerificationKey {
  readonly kid: string | undefined;
  readonly algorithms: readonly Algorithm[];
  verify(algorithm: Algorithm, signingInput: Buffer, signature: Buffer): boolean;
}

/**
 * A key import that worked, or why the key cannot be used (no key material in it).
 *
 * @example
 * ```ts
 * const imported: KeyImport = importJwk(jwk, ['RS256']);
 * if (!imported.ok) throw new ConfigurationError(`"keys"[0]: ${imported.reason}`);
 * ```
 */
export type KeyImport =
  | { readonly ok: true; readonly key: VerificationKey }
  | { readonly ok: false; readonly reason: string };

const MIN_RSA_BITS = 2048;
const MIN_SECRET_BITS = 256;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const;

// The algorithms a key can ever serve, from its type alone (RFC 7518 §3, RFC 8037 §3.1).
function algorithmsFittingKey(key: KeyObject): Algorithm[] | string {
  const facts = keyFacts(key);
  if (facts.kind === 'private') return 'a private key was given; pass the public key';
  const all = Object.keys(ALGORITHMS) as Algorithm[];
  switch (facts.type) {
    case 'oct': {
      const bits = facts.bits ?? 0;
      if (bits < MIN_SECRET_BITS) return `HMAC secrets must have at least ${MIN_SECRET_BITS} bits`;
      // RFC 7518 §3.2: the key is at least as long as the hash output.
      return all.filter(
        (a) => ALGORITHMS[a].family === 'HMAC' && bits >= ALGORITHMS[a].hashBytes * 8,
      );
    }
    case 'rsa':
    case 'rsa-pss': {
      if ((facts.bits ?? 0) < MIN_RSA_BITS)
        return `RSA keys under ${MIN_RSA_BITS} bits are refused`;
      const families = facts.type === 'rsa' ? ['RSA', 'PSS'] : ['PSS'];
      return all.filter((a) => families.includes(ALGORITHMS[a].family));
    }
    case 'ec':
      return all.filter(
        (a) => ALGORITHMS[a].family === 'EC' && ALGORITHMS[a].curve === facts.curve,
      );
    case 'ed25519':
    case 'ed448':
      return ['EdDSA'];
    default:
      return `keys of type ${facts.type} are not supported`;
  }
}

/**
 * Wraps a KeyObject as a {@link VerificationKey}. `declaredAlg` (a JWK `alg`) pins the key to
 * that one algorithm (RFC 7517 §4.4); `allowed` is the configured list.
 *
 * @example
 * ```ts
 * createVerificationKey(createSecretKey(secret), { kid: 'hs-1', allowed: ['HS256'] });
 * ```
 */
export function createVerificationKey(
  key: KeyObject,
  options: { kid?: string | undefined; declaredAlg?: unknown; allowed: readonly Algorithm[] },
): KeyImport {
  const fitting = algorithmsFittingKey(key);
  if (typeof fitting === 'string') return { ok: false, reason: fitting };
  let usable = fitting;
  if (options.declaredAlg !== undefined) {
    const declared = options.declaredAlg;
    if (typeof declared !== 'string' || !usable.includes(declared as Algorithm)) {
      return { ok: false, reason: 'the key\'s "alg" does not fit its type' };
    }
    usable = [declared as Algorithm];
  }
  usable = usable.filter((a) => options.allowed.includes(a));
  if (usable.length === 0) {
    return { ok: false, reason: 'none of the configured algorithms fits this key' };
  }
  const checks = new Map<Algorithm, SignatureCheck>();
  for (const algorithm of usable) checks.set(algorithm, createSignatureCheck(algorithm, key));
  return {
    ok: true,
    key: Object.freeze({
      kid: options.kid,
      algorithms: Object.freeze(usable),
      verify(algorithm: Algorithm, signingInput: Buffer, signature: Buffer): boolean {
        const check = checks.get(algorithm);
        return check !== undefined && check(signingInput, signature);
      },
    }),
  };
}

/**
 * Imports one JWK under RFC 7517 rules: `use` must be `sig`, `key_ops` must allow `verify`,
 * private members are refused, `alg` pins the algorithm.
 *
 * @example
 * ```ts
 * importJwk({ kty: 'RSA', n, e: 'AQAB', use: 'enc' }, ['RS256']);
 * // { ok: false, reason: 'the key is not for signatures ("use")' }
 * ```
 */
export function importJwk(jwk: unknown, allowed: readonly Algorithm[]): KeyImport {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    return { ok: false, reason: 'a JWK must be an object' };
  }
  const record = jwk as Record<string, unknown>;
  if (record.kid !== undefined && typeof record.kid !== 'string') {
    return { ok: false, reason: '"kid" must be a string' };
  }
  if (record.use !== undefined && record.use !== 'sig') {
    return { ok: false, reason: 'the key is not for signatures ("use")' };
  }
  if (
    record.key_ops !== undefined &&
    (!Array.isArray(record.key_ops) || !record.key_ops.includes('verify'))
  ) {
    return { ok: false, reason: 'the key is not for verification ("key_ops")' };
  }
  if (record.kty !== 'oct' && PRIVATE_JWK_MEMBERS.some((m) => record[m] !== undefined)) {
    return { ok: false, reason: 'the JWK holds private key members; publish only the public key' };
  }
  let key: KeyObject;
  try {
    key = keyFromJwk(record);
  } catch {
    return { ok: false, reason: 'the JWK is malformed' };
  }
  return createVerificationKey(key, { kid: record.kid, declaredAlg: record.alg, allowed });
}

/**
 * Imports a PEM public key or certificate.
 *
 * @example
 * ```ts
 * const imported = importPem(readFileSync('idp-public.pem', 'utf8'), ['RS256', 'PS256']);
 * ```
 */
export function importPem(pem: string, allowed: readonly Algorithm[]): KeyImport {
  if (/PRIVATE KEY-----/.test(pem)) {
    return { ok: false, reason: 'a private key was given; pass the public key' };
  }
  let key: KeyObject;
  try {
    key = keyFromPem(pem);
  } catch {
    return { ok: false, reason: 'the PEM text is not a public key or certificate' };
  }
  return createVerificationKey(key, { allowed });
}
