import { isUtf8 } from 'node:buffer';
import { isAlgorithm, type Algorithm } from './algorithms.js';
import { decodeBase64Url } from './base64url.js';
import { JwtGuardError, isJwtGuardError } from './errors.js';
import { deepFreeze } from './claims.js';
import { parseJsonObject } from './json.js';
import type { VerificationKey } from './keys/key.js';
import type { KeySource } from './keys/source.js';
import { isPromiseLike } from './promise.js';

/**
 * A compact JWS split and decoded, not yet verified.
 *
 * @example
 * ```ts
 * const { header, signingInput, signature }: DecodedJws = decodeCompactJws(token, limits);
 * ```
 */
export interface DecodedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Buffer;
  readonly signingInput: Buffer;
  readonly signature: Buffer;
}

/**
 * Size and shape limits applied before and during parsing.
 *
 * @example
 * ```ts
 * const limits: JwsLimits = { maxTokenBytes: 8192, maxJsonDepth: 16 };
 * ```
 */
export interface JwsLimits {
  /** Longest token accepted, checked before anything is decoded. */
  readonly maxTokenBytes: number;
  /** Deepest JSON nesting accepted in the header (and in claims, by the caller). */
  readonly maxJsonDepth: number;
}

const MAX_KID_LENGTH = 1024;

/**
 * Decodes UTF-8 strictly (RFC 8259 §8.1); invalid sequences give a string JSON.parse refuses
 * instead of silently becoming U+FFFD.
 *
 * @example
 * ```ts
 * utf8(Buffer.from('{"sub":"alice"}')); // '{"sub":"alice"}'
 * utf8(Buffer.from([0x7b, 0xff, 0x7d])); // '\u0000'
 * ```
 */
export function utf8(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString('utf8') : '\u0000';
}

/**
 * Splits and decodes a compact JWS (RFC 7515 §7.1): exactly three segments, strict base64url,
 * a non-empty signature, and a header that is a JSON object without duplicate members.
 *
 * @example
 * ```ts
 * const jws = decodeCompactJws(token, { maxTokenBytes: 8192, maxJsonDepth: 16 });
 * ```
 */
export function decodeCompactJws(
  token: string,
  limits: JwsLimits,
  headers?: Map<string, Readonly<Record<string, unknown>>>,
): DecodedJws {
  if (token.length > limits.maxTokenBytes) throw new JwtGuardError('ERR_TOKEN_TOO_LARGE');
  // Three segments exactly: a fourth dot means JWE or garbage. An empty signature is an
  // unsecured JWS (`alg: none`), which is never accepted. Each segment is strict base64url,
  // which its decoding checks.
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (
    first < 1 ||
    second === -1 ||
    second === token.length - 1 ||
    token.indexOf('.', second + 1) !== -1
  ) {
    throw new JwtGuardError('ERR_TOKEN_MALFORMED');
  }
  const header = decodeHeader(token.slice(0, first), limits.maxJsonDepth, headers);
  const payload = decodeBase64Url(token, first + 1, second);
  const signature = decodeBase64Url(token, second + 1, token.length);
  if (payload === undefined || signature === undefined) {
    throw new JwtGuardError('ERR_TOKEN_MALFORMED');
  }
  // Every character is now known to be ASCII, so latin1 is the exact signing input.
  return {
    header,
    payload,
    signingInput: Buffer.from(token.slice(0, second), 'latin1'),
    signature,
  };
}

// An issuer signs every token with one of a few headers, so decoded headers are kept by their
// encoded text, frozen. The bound keeps a flood of distinct headers from growing memory.
const MAX_CACHED_HEADERS = 64;

/**
 * A map for {@link decodeCompactJws} to keep decoded headers in.
 *
 * @example
 * ```ts
 * const headers = createHeaderCache();
 * const jws = decodeCompactJws(token, limits, headers);
 * ```
 */
export function createHeaderCache(): Map<string, Readonly<Record<string, unknown>>> {
  return new Map();
}

function decodeHeader(
  segment: string,
  maxDepth: number,
  headers: Map<string, Readonly<Record<string, unknown>>> | undefined,
): Readonly<Record<string, unknown>> {
  // A header in the map was decoded from exactly this text, so it is canonical too.
  const known = headers?.get(segment);
  if (known !== undefined) return known;
  const bytes = decodeBase64Url(segment);
  const parsed = bytes === undefined ? undefined : parseJsonObject(utf8(bytes), maxDepth);
  if (parsed?.ok !== true) throw new JwtGuardError('ERR_TOKEN_MALFORMED');
  const header = deepFreeze(parsed.value);
  if (headers !== undefined) {
    if (headers.size >= MAX_CACHED_HEADERS) headers.clear();
    headers.set(segment, header);
  }
  return header;
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
 * already-checked algorithm; returns the key that verified. Synchronous when the key source
 * answers synchronously.
 *
 * @example
 * ```ts
 * const key = await verifyJwsSignature(jws, 'ES256', keySource);
 * ```
 */
export function verifyJwsSignature(
  jws: DecodedJws,
  algorithm: Algorithm,
  keys: KeySource,
): VerificationKey | Promise<VerificationKey> {
  let candidates: ReturnType<KeySource['select']>;
  try {
    candidates = keys.select(jws.header.kid as string | undefined, algorithm);
  } catch (error) {
    throw asKeySourceError(error);
  }
  return isPromiseLike(candidates)
    ? Promise.resolve(candidates).then(
        (found) => firstVerifying(jws, algorithm, found),
        (error: unknown) => {
          throw asKeySourceError(error);
        },
      )
    : firstVerifying(jws, algorithm, candidates);
}

// A key source that fails in its own way (a custom one calling a secrets manager) is an
// outage of the keys: 503, with the original error kept as the cause for the server's logs.
function asKeySourceError(error: unknown): JwtGuardError {
  return isJwtGuardError(error)
    ? error
    : new JwtGuardError('ERR_KEYS_UNAVAILABLE', { cause: error });
}

function firstVerifying(
  jws: DecodedJws,
  algorithm: Algorithm,
  candidates: readonly VerificationKey[],
): VerificationKey {
  // A custom key source may hand back nothing usable; that is never a pass.
  if (!Array.isArray(candidates) || candidates.length === 0) {
    throw new JwtGuardError('ERR_KEY_NOT_FOUND');
  }
  for (const key of candidates as readonly (VerificationKey | undefined)[]) {
    if (typeof key?.verify !== 'function') continue;
    if (key.verify(algorithm, jws.signingInput, jws.signature) === true) return key;
  }
  throw new JwtGuardError('ERR_SIGNATURE_INVALID');
}

/**
 * A verified JWS: header, payload bytes and the key that verified it.
 *
 * @example
 * ```ts
 * const { header, payload }: VerifiedJws = await verifier.verify(compactJws);
 * const document = JSON.parse(Buffer.from(payload).toString('utf8')) as unknown;
 * ```
 */
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
