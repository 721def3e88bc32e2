// What the token-shape suites (attacks, jws, json, base64url) share: one issuer, one audience,
// a frozen clock, a guard over three keys, and the exact 401 every refusal there must be.
// Jest loads this module once per test file, so each file still has a clock of its own.
import { createGuard, describeError, type ErrorCode, type GuardOptions } from '@jwt-guard/core';
import { createTestClock, createTokenFactory, refusalOf, testKeys } from '@jwt-guard/testkit';

export const ISSUER = 'https://idp.example/';
export const AUDIENCE = 'https://api.example/';
export const keys = testKeys();
export const clock = createTestClock();
export const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });

/**
 * A guard for {@link ISSUER} and {@link AUDIENCE} on the frozen clock, trusting the ES256,
 * RS256 and EdDSA test keys, with `options` over that.
 *
 * @example
 * ```ts
 * const guard = guardWith({ maxLifetimeSeconds: 600 });
 * ```
 */
export function guardWith(options: Partial<GuardOptions> = {}) {
  return createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
    keys: [keys.ES256.jwk, keys.RS256.jwk, keys.EdDSA.jwk],
    ...options,
  });
}

/**
 * The RFC 6750 challenge of an `invalid_token` refusal with this code.
 *
 * @example
 * ```ts
 * invalidToken('ERR_TOKEN_EXPIRED'); // 'Bearer error="invalid_token", error_description="…"'
 * ```
 */
export function invalidToken(code: ErrorCode): string {
  return `Bearer error="invalid_token", error_description="${describeError(code).text}"`;
}

/**
 * Expects a refusal with exactly this code, status 401 and its `invalid_token` challenge.
 *
 * @example
 * ```ts
 * await expectRefusal(guard.verify(token), 'ERR_SIGNATURE_INVALID');
 * ```
 */
export async function expectRefusal(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await refusalOf(promise);
  expect({ code: error.code, status: error.status }).toEqual({ code, status: 401 });
  expect(error.headers['WWW-Authenticate']).toBe(invalidToken(code));
}

/**
 * The JSON text of the default claims with `members` over them.
 *
 * @example
 * ```ts
 * signRaw(header, claimsJson({ scope: 'admin' }), { alg: 'none' });
 * ```
 */
export function claimsJson(members: Record<string, unknown> = {}): string {
  return JSON.stringify(mint.claims(members));
}
