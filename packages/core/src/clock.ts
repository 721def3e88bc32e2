/**
 * The guard's source of time. Tests and the testkit pass a controllable one; production uses
 * the system clock.
 *
 * @example
 * ```ts
 * const frozen: Clock = { nowMs: () => Date.parse('2030-01-01T00:00:00Z') };
 * createGuard({ issuer, audience, clock: frozen });
 * ```
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

/**
 * The system clock.
 *
 * @example
 * ```ts
 * const nowSeconds = Math.floor(systemClock.nowMs() / 1000);
 * ```
 */
export const systemClock: Clock = Object.freeze({ nowMs: () => Date.now() });
