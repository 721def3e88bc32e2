import type { Clock } from './clock.js';
import type { AuthContext } from './context.js';
import { expectedHtus } from './dpop/htu.js';
import type { DpopPolicy } from './dpop/options.js';
import { createProofVerifier } from './dpop/proof.js';
import { JwtGuardError } from './errors.js';
import type { EmitEvent } from './events.js';
import type { PresentationScheme } from './extract.js';
import type { CertificateThumbprint } from './mtls.js';
import { headerValues, type GuardRequest } from './request.js';
import type { TokenStore } from './store.js';

/**
 * Checks that the presenter of a verified token holds what the token is bound to.
 *
 * @example
 * ```ts
 * const checkSender: SenderCheck = createSenderCheck(options);
 * await checkSender(request, auth, 'DPoP'); // throws ERR_DPOP_PROOF_MISSING without a DPoP header
 * ```
 */
export type SenderCheck = (
  request: GuardRequest,
  auth: AuthContext,
  scheme: PresentationScheme,
) => void | Promise<void>;

/**
 * What the sender checks need from the guard.
 *
 * @example
 * ```ts
 * const options: SenderCheckOptions = {
 *   dpop: resolved.dpop,
 *   certificateThumbprint: resolved.certificateThumbprint,
 *   replayStore: createMemoryStore({ clock: resolved.clock }),
 *   clock: resolved.clock,
 *   clockToleranceSeconds: 5,
 *   emit: resolved.emit,
 * };
 * ```
 */
export interface SenderCheckOptions {
  readonly dpop: DpopPolicy | undefined;
  readonly certificateThumbprint: CertificateThumbprint;
  /** Remembers proof `jti`s (RFC 9449 §11.1): the guard's store, or its embedded one. */
  readonly replayStore: TokenStore;
  readonly clock: Clock;
  readonly clockToleranceSeconds: number;
  readonly emit: EmitEvent;
}

// `cnf` (RFC 7800) members the guard can verify, read strictly: a binding it cannot read
// is a token it cannot accept.
function confirmation(auth: AuthContext): { jkt?: string; x5t?: string } {
  const cnf = auth.claims.cnf;
  if (cnf === undefined) return {};
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) {
    throw new JwtGuardError('ERR_CLAIM_INVALID', { requirement: 'cnf' });
  }
  const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>;
  if (
    (jkt !== undefined && typeof jkt !== 'string') ||
    (x5t !== undefined && typeof x5t !== 'string') ||
    // RFC 7800 §3.1: `cnf` names the key the presenter must prove. Bound only by methods the
    // guard cannot check (`jwk`, `kid`, `jku`, …), the token would pass as a bearer token.
    (jkt === undefined && x5t === undefined)
  ) {
    throw new JwtGuardError('ERR_CLAIM_INVALID', { requirement: 'cnf' });
  }
  return { jkt, x5t };
}

/**
 * Builds the per-request check of sender-constrained tokens: DPoP (RFC 9449 §7) for tokens
 * with `cnf.jkt`, mutual TLS (RFC 8705 §3) for tokens with `cnf["x5t#S256"]`. It runs on every
 * request, also when the verified-token cache answered: a proof is per request.
 *
 * @example
 * ```ts
 * const checkSender = createSenderCheck({ dpop, certificateThumbprint, replayStore, clock, clockToleranceSeconds: 5, emit });
 * await checkSender(request, auth, 'DPoP');
 * ```
 */
export function createSenderCheck(options: SenderCheckOptions): SenderCheck {
  const { dpop, certificateThumbprint, replayStore, clock, clockToleranceSeconds, emit } = options;
  const verifyProof = createProofVerifier();

  function checkCertificate(request: GuardRequest, x5t: string): void {
    // RFC 8705 §3: no certificate, or another one, and the token is not usable here.
    if (certificateThumbprint(request) !== x5t) {
      throw new JwtGuardError('ERR_CERTIFICATE_BINDING_MISMATCH', { requirement: 'mtls' });
    }
  }

  function checkProof(
    request: GuardRequest,
    auth: AuthContext,
    jkt: string | undefined,
    policy: DpopPolicy,
  ): Promise<void> {
    // RFC 9449 §7.1: the DPoP scheme carries a DPoP-bound token, nothing else.
    if (jkt === undefined) {
      throw new JwtGuardError('ERR_DPOP_BINDING_MISMATCH', { requirement: 'dpop:cnf' });
    }
    const proofs = headerValues(request.headers, 'dpop');
    if (proofs.length === 0) {
      throw new JwtGuardError('ERR_DPOP_PROOF_MISSING', { requirement: 'dpop:proof' });
    }
    if (proofs.length > 1) {
      throw new JwtGuardError('ERR_DPOP_PROOF_INVALID', { requirement: 'dpop:multiple' });
    }
    const nowSeconds = clock.nowMs() / 1000;
    const proof = verifyProof((proofs[0] as string).trim(), {
      method: request.method,
      htus: expectedHtus(request, policy.origin),
      accessToken: auth.token,
      nowSeconds,
      proofMaxAgeSeconds: policy.proofMaxAgeSeconds,
      clockToleranceSeconds,
      algorithms: policy.algorithms,
    });
    if (
      policy.nonces !== undefined &&
      !policy.nonces.accepts(proof.nonce, nowSeconds, clockToleranceSeconds)
    ) {
      throw new JwtGuardError('ERR_DPOP_NONCE_REQUIRED', {
        requirement: 'dpop:nonce',
        dpopNonce: policy.nonces.current(nowSeconds),
      });
    }
    if (proof.jkt !== jkt) {
      throw new JwtGuardError('ERR_DPOP_BINDING_MISMATCH', { requirement: 'dpop:jkt' });
    }
    // Last, so a proof refused for another reason is not spent. Kept while its `iat` is in the
    // window (the last second included: a store forgets an entry at its expiry), plus the
    // store's own clock tolerance.
    const expiresAt = proof.iat + policy.proofMaxAgeSeconds + clockToleranceSeconds + 1;
    const key = `dpop\u0000${jkt}\u0000${proof.jti}`;
    return consume(key, expiresAt).then((first) => {
      if (first === false) {
        throw new JwtGuardError('ERR_DPOP_PROOF_REPLAYED', { requirement: 'dpop:jti' });
      }
      // A store that answers neither true nor false is broken, not a verdict on the proof.
      if (first !== true) storeFailed(new TypeError('consumeOnce answered neither true nor false'));
    }, storeFailed);
  }

  // Replay protection fails closed, like one-time tokens: a proof is only as good as the
  // promise that it is used once. A store that throws instead of rejecting is failing too.
  function consume(key: string, expiresAt: number): Promise<unknown> {
    // The executor turns a synchronous throw into a rejection, and any answer into a promise.
    return new Promise((resolve) => resolve(replayStore.consumeOnce(key, expiresAt)));
  }

  function storeFailed(error: unknown): never {
    emit({
      type: 'store.unavailable',
      allowed: false,
      reason: error instanceof Error ? error.name : 'unknown failure',
    });
    throw new JwtGuardError('ERR_STORE_UNAVAILABLE', { cause: error });
  }

  return (request, auth, scheme) => {
    const { jkt, x5t } = confirmation(auth);
    if (x5t !== undefined) checkCertificate(request, x5t);
    if (scheme === 'DPoP' && dpop !== undefined) return checkProof(request, auth, jkt, dpop);
    // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is refused, whether or
    // not DPoP is configured: without the key, possession of the token proves nothing.
    if (jkt !== undefined) {
      throw new JwtGuardError('ERR_DPOP_BINDING_MISMATCH', { requirement: 'dpop:scheme' });
    }
    if (dpop?.required === true) {
      throw new JwtGuardError('ERR_DPOP_REQUIRED', { requirement: 'dpop' });
    }
    return undefined;
  };
}
