import { isAlgorithm, type Algorithm } from './algorithms.js';
import { decodeBase64Url } from './base64url.js';
import { JwtGuardError } from './errors.js';
import { parseJsonObject } from './json.js';
import type { VerificationKey } from './keys/key.js';
import type { KeySource } from './keys/source.js';

/** A compact JWS split and decoded, not yet verified. */
export interface DecodedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Buffer;
  readonly signingInput: Buffer;
  readonly signature: Buffer;
}

/** Size and shape limits applied before and during parsing. */
export interface JwsLimits {
  /** Longest token accepted, checked before anything is decoded. */
  readonly maxTokenBytes: number;
  /** Deepest JSON nesting accepted in the header (and in claims, by the caller). */
  readonly maxJsonDepth: number;
}

const MAX_KID_LENGTH = 1024;

/**
 * Splits and decodes a compact JWS (RFC 7515 §7.1): exactly three segments, strict base64url,
 * a non-empty signature, and a header that is a JSON object without duplicate members.
 *
 * @example
 * ```ts
 * const jws = decodeCompactJws(token, { maxTokenBytes: 8192, maxJsonDepth: 16 });
 * ```
 */
export function decodeCompactJws(token: string, limits: JwsLimits): DecodedJws {
  if (token.length > limits.maxTokenBytes) throw new JwtGuardError('ERR_TOKEN_TOO_LARGE');
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  // Three segments exactly: a fourth dot means JWE or JSON-ish garbage; an empty signature is
  // an unsecured JWS (`alg: none`), which is never accepted.
  if (
    first <= 0 ||
    second < 0 ||
    token.indexOf('.', second + 1) !== -1 ||
    second === token.length - 1
  ) {
    throw new JwtGuardError('ERR_TOKEN_MALFORMED');
  }
  const headerBytes = decodeBase64Url(token.slice(0, first));
  const payload = decodeBase64Url(token.slice(first + 1, second));
  const signature = decodeBase64Url(token.slice(second + 1));
  if (headerBytes === undefined || payload === undefined || signature === undefined) {
    throw new JwtGuardError('ERR_TOKEN_MALFORMED');
  }
  const header = parseJsonObject(headerBytes.toString('utf8'), limits.maxJsonDepth);
  if (!header.ok) throw new JwtGuardError('ERR_TOKEN_MALFORMED');
  return {
    header: header.value,
    payload,
    signingInput: Buffer.from(token.slice(0, second), 'latin1'),
    signature,
  };
}

/**
 * Checks the protected header and returns the algorithm to verify with. The algorithm must be
 * one the configuration allows (`none` never is); `crit` extensions and unencoded payloads
 * (RFC 7797 `b64: false`) are refused; `jwk`, `jku`, `x5u`, `x5c` are ignored, never used
 * to find a key (RFC 8725 §3.10).
 *
 * @example
 * ```ts
 * const alg = checkProtectedHeader(jws.header, ['ES256']);
 * ```
 */
export function checkProtectedHeader(
  header: Readonly<Record<string, unknown>>,
  allowed: readonly Algorithm[],
): Algorithm {
  const alg = header.alg;
  if (!isAlgorithm(alg) || !allowed.includes(alg)) {
    throw new JwtGuardError('ERR_ALGORITHM_NOT_ALLOWED');
  }
  // RFC 7515 §4.1.11: a recipient that does not understand a listed extension must reject.
  if (header.crit !== undefined || (header.b64 !== undefined && header.b64 !== true)) {
    throw new JwtGuardError('ERR_HEADER_INVALID');
  }
  const kid = header.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length > MAX_KID_LENGTH)) {
    throw new JwtGuardError('ERR_HEADER_INVALID');
  }
  return alg;
}

/**
 * Verifies the signature with the keys the source selects for the header's `kid` and the
 * already-checked algorithm; returns the key that verified.
 */
export async function verifyJwsSignature(
  jws: DecodedJws,
  algorithm: Algorithm,
  keys: KeySource,
): Promise<VerificationKey> {
  const candidates = await keys.select(jws.header.kid as string | undefined, algorithm);
  for (const key of candidates) {
    if (key.verify(algorithm, jws.signingInput, jws.signature)) return key;
  }
  throw new JwtGuardError('ERR_SIGNATURE_INVALID');
}

/** A verified JWS: header, payload bytes and the key that verified it. */
export interface VerifiedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Uint8Array;
  readonly key: VerificationKey;
}

/**
 * Signature-only verification of compact JWS, for payloads that are not JWT claims (and for
 * conformance suites). `createGuard` builds on the same three steps.
 *
 * @example
 * ```ts
 * const verifier = createJwsVerifier({ keys: createStaticKeySource(jwk, ['ES256']), algorithms: ['ES256'] });
 * const { payload } = await verifier.verify(compactJws);
 * ```
 */
export function createJwsVerifier(options: {
  keys: KeySource;
  algorithms: readonly Algorithm[];
  limits?: Partial<JwsLimits>;
}): { verify(token: string): Promise<VerifiedJws> } {
  const limits: JwsLimits = { maxTokenBytes: 8192, maxJsonDepth: 16, ...options.limits };
  return {
    async verify(token) {
      const jws = decodeCompactJws(token, limits);
      const algorithm = checkProtectedHeader(jws.header, options.algorithms);
      const key = await verifyJwsSignature(jws, algorithm, options.keys);
      return { header: jws.header, payload: jws.payload, key };
    },
  };
}
