import { createHash } from 'node:crypto';
import type { Algorithm } from '../algorithms.js';
import { createLruCache } from '../cache.js';
import { JwtGuardError, type ErrorCode } from '../errors.js';
import { parseJsonObject } from '../json.js';
import { checkProtectedHeader, decodeCompactJws, utf8, type DecodedJws } from '../jws.js';
import { importJwk, type VerificationKey } from '../keys/key.js';
import { normalizeHtu } from './htu.js';
import { jwkThumbprint } from './thumbprint.js';

/**
 * What a valid proof proves: the key (by thumbprint) and its one-time `jti`.
 *
 * @example
 * ```ts
 * const proof: VerifiedProof = verifyProof(dpopHeader, expected);
 * if (proof.jkt !== jkt) throw new JwtGuardError('ERR_DPOP_BINDING_MISMATCH');
 * const firstUse = await replayStore.consumeOnce(proof.jti, proof.iat + proofMaxAgeSeconds);
 * ```
 */
export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof's key, to compare with the token's `cnf.jkt`. */
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
  /** The `nonce` claim as sent, for the caller's nonce check. */
  readonly nonce: unknown;
}

/**
 * The request facts a proof must match (RFC 9449 §4.3).
 *
 * @example
 * ```ts
 * const expected: ProofExpectations = {
 *   method: 'POST',
 *   htus: expectedHtus(request, { origins: ['https://api.example'] }),
 *   accessToken: auth.token,
 *   nowSeconds: Date.now() / 1000,
 *   proofMaxAgeSeconds: 60,
 *   clockToleranceSeconds: 5,
 *   algorithms: ['ES256', 'EdDSA'],
 * };
 * ```
 */
export interface ProofExpectations {
  readonly method: string;
  /** Acceptable normalised `htu` values (see `expectedHtus`). */
  readonly htus: readonly string[];
  readonly accessToken: string;
  readonly nowSeconds: number;
  readonly proofMaxAgeSeconds: number;
  readonly clockToleranceSeconds: number;
  readonly algorithms: readonly Algorithm[];
}

/**
 * Verifies proofs; keeps the keys of recently seen proof headers (one client, one header).
 *
 * @example
 * ```ts
 * const verifyProof: ProofVerifier = createProofVerifier(); // once: its key cache is per verifier
 * const { jkt } = verifyProof(dpopHeader, expected);
 * ```
 */
export type ProofVerifier = (proof: string, expected: ProofExpectations) => VerifiedProof;

const LIMITS = { maxTokenBytes: 8192, maxJsonDepth: 8 } as const;
const MAX_JTI_LENGTH = 256;
const CACHED_KEYS = 256;

function invalid(check: string, code: ErrorCode = 'ERR_DPOP_PROOF_INVALID'): JwtGuardError {
  return new JwtGuardError(code, { requirement: `dpop:${check}` });
}

interface ProofKey {
  readonly key: VerificationKey;
  readonly jkt: string;
}

function importProofKey(header: Readonly<Record<string, unknown>>, alg: Algorithm): ProofKey {
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalid('jwk');
  const record = jwk as Readonly<Record<string, unknown>>;
  // RFC 9449 §4.3 check 7: the key must be public; importJwk refuses private members, keys
  // that do not fit `alg` and RSA under 2048 bits.
  const imported = importJwk(record, [alg]);
  const jkt = jwkThumbprint(record);
  if (!imported.ok || jkt === undefined) throw invalid('jwk');
  return { key: imported.key, jkt };
}

/**
 * Builds the RFC 9449 §4.3 proof check: one compact JWS, `typ` `dpop+jwt`, an asymmetric
 * `alg` from the allowlist, a signature by the public `jwk` of its own header, `htm`, `htu`,
 * `iat` within the window, `jti`, and `ath` = SHA-256 of the access token. The caller
 * compares `jkt` with the token's `cnf.jkt`, checks the nonce and consumes `jti`.
 *
 * @example
 * ```ts
 * const verifyProof = createProofVerifier();
 * const { jkt, jti } = verifyProof(dpopHeader, { method: 'GET', htus: ['https://api.example/orders'], accessToken, nowSeconds, proofMaxAgeSeconds: 60, clockToleranceSeconds: 5, algorithms: ['ES256'] });
 * ```
 */
export function createProofVerifier(): ProofVerifier {
  // Keyed by the encoded header, which holds the whole JWK: a client sends the same header
  // with every proof, so its key is imported once, not per request.
  const keys = createLruCache<string, ProofKey>(CACHED_KEYS);

  return (proof, expected) => {
    let jws: DecodedJws;
    try {
      jws = decodeCompactJws(proof, LIMITS);
    } catch {
      throw invalid('malformed');
    }
    const { header } = jws;
    // RFC 7515 §4.1.9: a media type, case-insensitive, with `application/` implied.
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined;
    if (typ !== 'dpop+jwt' && typ !== 'application/dpop+jwt') throw invalid('typ');
    let alg: Algorithm;
    try {
      alg = checkProtectedHeader(header, expected.algorithms);
    } catch {
      throw invalid('alg');
    }
    const encodedHeader = proof.slice(0, proof.indexOf('.'));
    let proofKey = keys.get(encodedHeader);
    if (proofKey === undefined) {
      proofKey = importProofKey(header, alg);
      keys.set(encodedHeader, proofKey);
    }
    if (!proofKey.key.verify(alg, jws.signingInput, jws.signature)) throw invalid('signature');

    const parsed = parseJsonObject(utf8(jws.payload), LIMITS.maxJsonDepth);
    if (!parsed.ok) throw invalid('malformed');
    const claims = parsed.value;
    const { jti, htm, htu, iat, ath } = claims;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
      throw invalid('jti');
    }
    // RFC 9110 §9.1: methods are case-sensitive.
    if (typeof htm !== 'string' || htm !== expected.method) throw invalid('htm');
    const normalized = normalizeHtu(htu);
    if (normalized === undefined || !expected.htus.includes(normalized)) throw invalid('htu');
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('iat');
    const { nowSeconds, clockToleranceSeconds: tolerance } = expected;
    if (
      iat > nowSeconds + tolerance ||
      iat < nowSeconds - expected.proofMaxAgeSeconds - tolerance
    ) {
      throw invalid('iat');
    }
    // RFC 9449 §4.3 check 11: a proof presented with an access token is bound to it.
    const hash = createHash('sha256').update(expected.accessToken).digest('base64url');
    if (typeof ath !== 'string' || ath !== hash) throw invalid('ath');
    return { jkt: proofKey.jkt, jti, iat, nonce: claims.nonce };
  };
}
