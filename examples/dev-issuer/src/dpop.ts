import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import { refuse, type Refusal } from './errors.js';

/**
 * The algorithms a client may sign its DPoP proofs with: asymmetric ones only (RFC 9449 §4.2),
 * as advertised in `dpop_signing_alg_values_supported`.
 *
 * @example
 * ```ts
 * metadata.dpop_signing_alg_values_supported = [...DPOP_ALGORITHMS];
 * ```
 */
export const DPOP_ALGORITHMS: readonly string[] = Object.freeze([
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
]);

/**
 * The key a valid proof was signed with, as a token's `cnf.jkt` names it.
 *
 * @example
 * ```ts
 * const bound: DpopBinding = { ok: true, jkt: await calculateJwkThumbprint(publicJwk) };
 * ```
 */
export interface DpopBinding {
  readonly ok: true;
  /** The RFC 7638 SHA-256 thumbprint of the proof's public `jwk`, base64url. */
  readonly jkt: string;
}

/**
 * Checks the DPoP proofs sent to the token endpoint (RFC 9449 §4.3, §5).
 *
 * @example
 * ```ts
 * const checked = await proofs.check(dpopHeaderValues);
 * if (checked !== undefined && !checked.ok) return answerRefusal(checked);
 * ```
 */
export interface DpopProofChecker {
  /**
   * Every value of the request's `DPoP` header: `undefined` for none (a Bearer token is
   * issued), the proof key's thumbprint for one valid proof, a refusal otherwise. A valid
   * proof is spent: its `jti` is refused from then on.
   */
  check(proofs: readonly string[]): Promise<DpopBinding | Refusal | undefined>;
}

/**
 * Options of {@link createDpopProofChecker}.
 *
 * @example
 * ```ts
 * const options: DpopProofCheckerOptions = { tokenEndpoint: 'http://127.0.0.1:4000/token' };
 * ```
 */
export interface DpopProofCheckerOptions {
  /** The token endpoint's public URL: the `htu` every proof must name. */
  readonly tokenEndpoint: string;
  /** How old a proof's `iat` may be; default 60. */
  readonly proofMaxAgeSeconds?: number;
  /** Clock skew allowed on `iat`, either way; default 5. */
  readonly clockToleranceSeconds?: number;
}

// JWK members that only a private (or symmetric) key has: a proof carries the public key.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
// Bounds what one remembered jti may cost; a UUID is 36 characters.
const MAX_JTI_LENGTH = 256;
const INVALID = 'the DPoP proof is invalid';

/**
 * Creates the proof checker of one token endpoint, with its own memory of spent `jti`s.
 *
 * @example
 * ```ts
 * const proofs = createDpopProofChecker({ tokenEndpoint: 'http://127.0.0.1:4000/token' });
 * ```
 */
export function createDpopProofChecker(options: DpopProofCheckerOptions): DpopProofChecker {
  const htu = normalizeHtu(options.tokenEndpoint);
  if (htu === undefined) throw new TypeError('"tokenEndpoint" must be an http or https URL');
  const maxAgeSeconds = options.proofMaxAgeSeconds ?? 60;
  const toleranceSeconds = options.clockToleranceSeconds ?? 5;
  // RFC 9449 §11.1: a jti is remembered as long as its proof could be accepted. Keyed by the
  // time of first use, so the map is ordered by expiry and pruning stops at the first live one.
  const spent = new Map<string, number>();

  function spend(key: string, nowSeconds: number): boolean {
    for (const [oldest, expiresAt] of spent) {
      if (expiresAt > nowSeconds) break;
      spent.delete(oldest);
    }
    if (spent.has(key)) return false;
    // A proof is acceptable until iat + max age + tolerance, and iat may be up to the
    // tolerance in the future.
    spent.set(key, nowSeconds + maxAgeSeconds + 2 * toleranceSeconds);
    return true;
  }

  async function verify(proof: string): Promise<DpopBinding | Refusal> {
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(proof);
    } catch {
      return refuse('invalid_dpop_proof', INVALID);
    }
    // RFC 9449 §4.3 checks 4 to 6: the exact type, an asymmetric algorithm, a public key.
    const { jwk } = header;
    if (
      header.typ !== 'dpop+jwt' ||
      typeof header.alg !== 'string' ||
      !DPOP_ALGORITHMS.includes(header.alg) ||
      typeof jwk !== 'object' ||
      jwk === null ||
      PRIVATE_MEMBERS.some((member) => member in jwk)
    ) {
      return refuse('invalid_dpop_proof', INVALID);
    }
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(proof, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: [...DPOP_ALGORITHMS],
        requiredClaims: ['jti', 'htm', 'htu', 'iat'],
        maxTokenAge: maxAgeSeconds,
        clockTolerance: toleranceSeconds,
      }));
    } catch {
      // A bad signature, a stale or future iat, a missing claim: all the same answer.
      return refuse('invalid_dpop_proof', INVALID);
    }
    const { jti, htm } = claims;
    if (
      htm !== 'POST' ||
      normalizeHtu(claims.htu) !== htu ||
      typeof jti !== 'string' ||
      jti === '' ||
      jti.length > MAX_JTI_LENGTH
    ) {
      return refuse('invalid_dpop_proof', 'the DPoP proof is not for this request');
    }
    const jkt = await calculateJwkThumbprint(jwk, 'sha256');
    if (!spend(`${jkt}\u0000${jti}`, Date.now() / 1000)) {
      return refuse('invalid_dpop_proof', 'the DPoP proof was already used');
    }
    return { ok: true, jkt };
  }

  return {
    async check(proofs) {
      if (proofs.length === 0) return undefined;
      // RFC 9449 §4.3 check 1: exactly one DPoP header.
      if (proofs.length > 1) return refuse('invalid_dpop_proof', 'send exactly one DPoP proof');
      return verify((proofs[0] as string).trim());
    },
  };
}

// RFC 9449 §4.3 check 9: htu is compared without query and fragment, after the RFC 3986
// normalisation the WHATWG URL parser does (case, default port, dot segments).
function normalizeHtu(value: unknown): string | undefined {
  if (typeof value !== 'string' || !URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  return `${url.origin}${url.pathname}`;
}
