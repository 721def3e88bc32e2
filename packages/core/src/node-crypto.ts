// The one module that touches node:crypto. An edge build replaces this file with WebCrypto;
// everything else in core sees only `KeyObject`-shaped handles and `SignatureCheck` functions.
import {
  KeyObject,
  X509Certificate,
  constants,
  createHmac,
  createPublicKey,
  createSecretKey,
  timingSafeEqual,
  verify,
  type JsonWebKey,
} from 'node:crypto';
import { ALGORITHMS, type Algorithm } from './algorithms.js';

export { KeyObject };

/**
 * What key import needs to know about a key, without reading its material.
 *
 * @example
 * ```ts
 * const facts: KeyFacts = { kind: 'public', type: 'ec', curve: 'prime256v1', bits: undefined };
 * ```
 */
export interface KeyFacts {
  readonly kind: 'public' | 'secret' | 'private';
  /** node:crypto key type: rsa, rsa-pss, ec, ed25519, ed448; `oct` for secrets. */
  readonly type: string;
  readonly curve: string | undefined;
  /** RSA modulus or secret length, in bits. */
  readonly bits: number | undefined;
}

/**
 * Verifies one signature over one signing input; never throws.
 *
 * @example
 * ```ts
 * const check: SignatureCheck = createSignatureCheck('ES256', publicKey);
 * check(signingInput, signature); // true or false
 * ```
 */
export type SignatureCheck = (signingInput: Buffer, signature: Buffer) => boolean;

/**
 * Whether a value is a node:crypto `KeyObject` (rather than a PEM text or a JWK).
 *
 * @example
 * ```ts
 * isKeyObject(createSecretKey(secret)); // true
 * isKeyObject({ kty: 'oct', k: secretBase64Url }); // false
 * ```
 */
export function isKeyObject(value: unknown): value is KeyObject {
  return value instanceof KeyObject;
}

/**
 * Reads the {@link KeyFacts} of a key.
 *
 * @example
 * ```ts
 * keyFacts(createSecretKey(randomBytes(32)));
 * // { kind: 'secret', type: 'oct', curve: undefined, bits: 256 }
 * ```
 */
export function keyFacts(key: KeyObject): KeyFacts {
  if (key.type === 'secret') {
    return { kind: 'secret', type: 'oct', curve: undefined, bits: (key.symmetricKeySize ?? 0) * 8 };
  }
  const details = key.asymmetricKeyDetails ?? {};
  return {
    kind: key.type,
    type: key.asymmetricKeyType ?? 'unknown',
    curve: details.namedCurve,
    bits: details.modulusLength,
  };
}

/**
 * Imports a JWK as a public or secret key; throws a plain Error on malformed input.
 *
 * @example
 * ```ts
 * const key = keyFromJwk({ kty: 'EC', crv: 'P-256', x, y });
 * ```
 */
export function keyFromJwk(jwk: Record<string, unknown>): KeyObject {
  if (jwk.kty === 'oct') {
    if (typeof jwk.k !== 'string' || !/^[A-Za-z0-9_-]+$/.test(jwk.k)) {
      throw new Error('an oct JWK needs "k" in base64url');
    }
    return createSecretKey(Buffer.from(jwk.k, 'base64url'));
  }
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

/**
 * Imports a PEM public key or X.509 certificate; throws a plain Error on anything else.
 *
 * @example
 * ```ts
 * const key = keyFromPem(readFileSync('idp-certificate.pem', 'utf8'));
 * ```
 */
export function keyFromPem(pem: string): KeyObject {
  if (/-----BEGIN CERTIFICATE-----/.test(pem)) return new X509Certificate(pem).publicKey;
  return createPublicKey({ key: pem, format: 'pem' });
}

/**
 * Exports a public key as a JWK (for thumbprints and key identity).
 *
 * @example
 * ```ts
 * keyToJwk(publicKey); // { kty: 'EC', crv: 'P-256', x: '…', y: '…' }
 * ```
 */
export function keyToJwk(key: KeyObject): Record<string, unknown> {
  return key.export({ format: 'jwk' });
}

/**
 * Builds the fast signature check for one key and one algorithm.
 *
 * @example
 * ```ts
 * const check = createSignatureCheck('PS256', publicKey);
 * const valid = check(signingInput, signature);
 * ```
 */
export function createSignatureCheck(algorithm: Algorithm, key: KeyObject): SignatureCheck {
  const spec = ALGORITHMS[algorithm];
  switch (spec.family) {
    case 'HMAC': {
      const hash = spec.hash as string;
      return (input, signature) => {
        const expected = createHmac(hash, key).update(input).digest();
        return signature.length === expected.length && timingSafeEqual(signature, expected);
      };
    }
    case 'RSA':
    case 'PSS': {
      const hash = spec.hash as string;
      const bytes = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
      const options =
        spec.family === 'PSS'
          ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.hashBytes }
          : { key, padding: constants.RSA_PKCS1_PADDING };
      // RFC 8017 §8.2.2 step 1: a signature is exactly as long as the modulus.
      return (input, signature) =>
        signature.length === bytes && safeVerify(hash, input, options, signature);
    }
    case 'EC': {
      const hash = spec.hash as string;
      const size = spec.signatureBytes as number;
      const options = { key, dsaEncoding: 'ieee-p1363' as const };
      // RFC 7518 §3.4: JWS carries raw R‖S; a DER signature has another length and fails here.
      return (input, signature) =>
        signature.length === size && safeVerify(hash, input, options, signature);
    }
    case 'OKP':
      return (input, signature) => safeVerify(null, input, key, signature);
  }
}

function safeVerify(
  hash: string | null,
  input: Buffer,
  key: Parameters<typeof verify>[2],
  signature: Buffer,
): boolean {
  try {
    return verify(hash, input, key, signature);
  } catch {
    return false;
  }
}
