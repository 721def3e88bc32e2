import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Server-provided DPoP nonces (RFC 9449 §9), derived from time and a secret: no shared state.
 *
 * @example
 * ```ts
 * const nonces: NonceSource = createNonceSource(secret, 300);
 * if (!nonces.accepts(proof.nonce, nowSeconds, 5)) {
 *   throw new JwtGuardError('ERR_DPOP_NONCE_REQUIRED', { dpopNonce: nonces.current(nowSeconds) });
 * }
 * ```
 */
export interface NonceSource {
  /** The nonce of the current window, for `DPoP-Nonce` response headers. */
  current(nowSeconds: number): string;
  /**
   * Whether a proof's nonce is the current window's or the previous one's, or the next one's
   * when `nowSeconds + clockToleranceSeconds` already reaches it (another instance's clock
   * running a little ahead).
   */
  accepts(nonce: unknown, nowSeconds: number, clockToleranceSeconds: number): boolean;
}

const COUNTER_BYTES = 8;
const MAC_BYTES = 16;

/**
 * Builds stateless nonces: `base64url(window ‖ HMAC-SHA256(secret, window))`, where `window`
 * counts `rotationSeconds` periods. Every instance of a fleet configured with the same secret
 * issues and accepts the same nonces; a nonce lives between one and two periods.
 *
 * @example
 * ```ts
 * const nonces = createNonceSource(secretBytes, 300);
 * res.setHeader('DPoP-Nonce', nonces.current(Date.now() / 1000));
 * ```
 */
export function createNonceSource(secret: Uint8Array, rotationSeconds: number): NonceSource {
  const windowOf = (nowSeconds: number): number => Math.floor(nowSeconds / rotationSeconds);
  const bytesOf = (window: number): Buffer => {
    const counter = Buffer.alloc(COUNTER_BYTES);
    counter.writeBigUInt64BE(BigInt(Math.max(0, window)));
    // The label keeps a secret shared with another HMAC use from producing valid nonces.
    const mac = createHmac('sha256', secret).update('jwt-guard dpop nonce').update(counter);
    return Buffer.concat([counter, mac.digest().subarray(0, MAC_BYTES)]);
  };
  let cached: { window: number; text: string } | undefined;
  return {
    current(nowSeconds) {
      const window = windowOf(nowSeconds);
      if (cached?.window !== window) {
        cached = { window, text: bytesOf(window).toString('base64url') };
      }
      return cached.text;
    },
    accepts(nonce, nowSeconds, clockToleranceSeconds) {
      if (typeof nonce !== 'string' || nonce.length !== 32 || !/^[A-Za-z0-9_-]+$/.test(nonce)) {
        return false;
      }
      const presented = Buffer.from(nonce, 'base64url');
      const window = Number(presented.readBigUInt64BE(0));
      const now = windowOf(nowSeconds);
      // A fleet's clocks differ by a few seconds: at a window edge, the instance ahead hands
      // out the next nonce before the one behind has reached that window.
      if (
        window !== now &&
        window !== now - 1 &&
        window !== windowOf(nowSeconds + clockToleranceSeconds)
      ) {
        return false;
      }
      return timingSafeEqual(presented, bytesOf(window));
    },
  };
}
