/**
 * A clock tests move by hand; it has the `nowMs()` shape the guard's `clock` option takes.
 *
 * @example
 * ```ts
 * const clock = createTestClock('2030-01-01T00:00:00Z');
 * clock.advanceSeconds(3600);
 * ```
 */
export interface TestClock {
  nowMs(): number;
  /** Current time in whole seconds (a NumericDate). */
  nowSeconds(): number;
  set(time: number | string | Date): void;
  advanceSeconds(seconds: number): void;
}

/**
 * Creates a {@link TestClock} standing at `start` (default 2030-01-01T00:00:00Z) until moved.
 *
 * @example
 * ```ts
 * const clock = createTestClock();
 * const guard = createGuard({ issuer, audience, clock });
 * clock.set('2030-06-01T00:00:00Z');
 * ```
 */
export function createTestClock(start: number | string | Date = '2030-01-01T00:00:00Z'): TestClock {
  let now = new Date(start).getTime();
  return {
    nowMs: () => now,
    nowSeconds: () => Math.floor(now / 1000),
    set(time) {
      now = new Date(time).getTime();
    },
    advanceSeconds(seconds) {
      now += seconds * 1000;
    },
  };
}
