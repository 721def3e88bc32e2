import { createTestClock, type TestClock } from './clock.js';
import { testKeys, type TestAlgorithm, type TestKey } from './keys.js';
import { createTokenFactory, type TokenFactory } from './tokens.js';

/**
 * Guard options over a static key and a frozen clock, and the tokens they accept: what most
 * tests of one guard start from. The options are plain (the testkit does not depend on core);
 * they satisfy `GuardOptions` as they are.
 *
 * @example
 * ```ts
 * const { keys, mint, options } = createStaticFixture();
 * const guard = createGuard({ ...options, keys: [keys.ES256.jwk, keys.RS256.jwk] });
 * await guard.verify(mint.sign(keys.RS256, { scope: 'read:items' }));
 * ```
 */
export interface StaticFixture {
  /** `https://idp.example/` */
  readonly issuer: string;
  /** `https://api.example/` */
  readonly audience: string;
  /** The process's {@link testKeys}. */
  readonly keys: Readonly<Record<TestAlgorithm, TestKey>>;
  /** Frozen at 2030-01-01T00:00:00Z until a test moves it. */
  readonly clock: TestClock;
  /** Tokens of `issuer` for `audience`, timed by `clock`, signed with any key. */
  readonly mint: TokenFactory;
  /** `{ issuer, audience, clock, keys }` with the public JWK of the ES256 key. */
  readonly options: {
    readonly issuer: string;
    readonly audience: string;
    readonly clock: TestClock;
    readonly keys: Record<string, unknown>;
  };
  /** A token the options accept: ES256, `claims` over the defaults (`undefined` removes one). */
  token(claims?: Record<string, unknown>): string;
}

/**
 * Creates a {@link StaticFixture}; each call has a clock of its own.
 *
 * @example
 * ```ts
 * const fixture = createStaticFixture();
 * const guard = createGuard(fixture.options);
 * await expect(guard.verify(fixture.token({ scope: 'read:items' }))).resolves.toBeDefined();
 * ```
 */
export function createStaticFixture(): StaticFixture {
  const issuer = 'https://idp.example/';
  const audience = 'https://api.example/';
  const keys = testKeys();
  const clock = createTestClock();
  const mint = createTokenFactory({ issuer, audience, clock });
  return {
    issuer,
    audience,
    keys,
    clock,
    mint,
    options: { issuer, audience, clock, keys: keys.ES256.jwk },
    token: (claims = {}) => mint.sign(keys.ES256, claims),
  };
}
