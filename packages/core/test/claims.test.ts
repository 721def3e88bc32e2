import { createGuard, describeError, type ErrorCode, type GuardOptions } from '@jwt-guard/core';
import {
  createTestClock,
  createTokenFactory,
  refusalOf,
  signJwt,
  testKeys,
} from '@jwt-guard/testkit';

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });
const now = clock.nowSeconds();

function guardWith(options: Partial<GuardOptions> = {}) {
  return createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
    keys: keys.ES256.jwk,
    ...options,
  });
}

/** Signs exactly these claims (no defaults), so a test controls every member. */
function tokenOf(claims: Record<string, unknown>): string {
  return signJwt(keys.ES256, { iss: ISSUER, aud: AUDIENCE, sub: 'alice', ...claims });
}

async function expectInvalid(promise: Promise<unknown>, code: ErrorCode, requirement?: string) {
  const error = await refusalOf(promise);
  expect({ code: error.code, status: error.status }).toEqual({ code, status: 401 });
  expect(error.headers['WWW-Authenticate']).toBe(
    `Bearer error="invalid_token", error_description="${describeError(code).text}"`,
  );
  if (requirement !== undefined) expect(error.requirement).toBe(requirement);
}

describe('time claims at the tolerance edge (default 5 s)', () => {
  const guard = guardWith({ cache: false });

  // RFC 7519 §4.1.4: valid only while now (less the skew allowance) is before exp.
  it.each([
    ['exp = now', now, true],
    ['exp = now - 4', now - 4, true],
    ['exp = now - 4.5', now - 4.5, true],
    ['exp = now - 5', now - 5, false],
    ['exp = now - 6', now - 6, false],
  ])('%s', async (_name, exp, accepted) => {
    const verifying = guard.verify(tokenOf({ iat: now - 60, exp }));
    if (accepted) await expect(verifying).resolves.toBeDefined();
    else await expectInvalid(verifying, 'ERR_TOKEN_EXPIRED');
  });

  it.each([
    ['nbf = now + 5', now + 5, true],
    ['nbf = now + 5.5', now + 5.5, false],
    ['nbf = now + 6', now + 6, false],
  ])('%s', async (_name, nbf, accepted) => {
    const verifying = guard.verify(tokenOf({ iat: now, exp: now + 60, nbf }));
    if (accepted) await expect(verifying).resolves.toBeDefined();
    else await expectInvalid(verifying, 'ERR_TOKEN_NOT_YET_VALID');
  });

  it.each([
    ['iat = now + 5', now + 5, true],
    ['iat = now + 6', now + 6, false],
  ])('%s (issued in the future)', async (_name, iat, accepted) => {
    const verifying = guard.verify(tokenOf({ iat, exp: now + 60 }));
    if (accepted) await expect(verifying).resolves.toBeDefined();
    else await expectInvalid(verifying, 'ERR_TOKEN_NOT_YET_VALID');
  });

  it('clockToleranceSeconds: 0 makes exp = now expired', async () => {
    const exact = guardWith({ clockToleranceSeconds: 0 });
    await expect(exact.verify(tokenOf({ iat: now - 60, exp: now + 1 }))).resolves.toBeDefined();
    await expectInvalid(exact.verify(tokenOf({ iat: now - 60, exp: now })), 'ERR_TOKEN_EXPIRED');
    await expectInvalid(
      exact.verify(tokenOf({ iat: now + 1, exp: now + 60 })),
      'ERR_TOKEN_NOT_YET_VALID',
    );
  });
});

describe('maxTokenAgeSeconds and maxLifetimeSeconds', () => {
  it('a token older than maxTokenAgeSeconds (+ tolerance) → ERR_TOKEN_TOO_OLD', async () => {
    const guard = guardWith({ maxTokenAgeSeconds: 300 });
    await expect(guard.verify(tokenOf({ iat: now - 305, exp: now + 60 }))).resolves.toBeDefined();
    await expectInvalid(
      guard.verify(tokenOf({ iat: now - 306, exp: now + 60 })),
      'ERR_TOKEN_TOO_OLD',
    );
  });

  it('no age limit by default', async () => {
    await expect(
      guardWith().verify(tokenOf({ iat: now - 80_000, exp: now + 60 })),
    ).resolves.toBeDefined();
  });

  it('the default lifetime cap is 86400 s (+ tolerance) → ERR_LIFETIME_EXCEEDED', async () => {
    const guard = guardWith();
    await expect(guard.verify(tokenOf({ iat: now, exp: now + 86_405 }))).resolves.toBeDefined();
    await expectInvalid(
      guard.verify(tokenOf({ iat: now, exp: now + 86_406 })),
      'ERR_LIFETIME_EXCEEDED',
    );
  });

  it('maxLifetimeSeconds is measured from iat, or from now without iat', async () => {
    const guard = guardWith({ maxLifetimeSeconds: 600, requiredClaims: { iat: false } });
    await expect(guard.verify(tokenOf({ iat: now - 100, exp: now + 505 }))).resolves.toBeDefined();
    await expectInvalid(
      guard.verify(tokenOf({ iat: now - 100, exp: now + 506 })),
      'ERR_LIFETIME_EXCEEDED',
    );
    await expect(guard.verify(tokenOf({ exp: now + 605 }))).resolves.toBeDefined();
    await expectInvalid(guard.verify(tokenOf({ exp: now + 606 })), 'ERR_LIFETIME_EXCEEDED');
  });

  it('without exp (opted out), iat + maxLifetimeSeconds is the expiry', async () => {
    const guard = guardWith({ maxLifetimeSeconds: 600, requiredClaims: { exp: false } });
    await expect(guard.verify(tokenOf({ iat: now - 604 }))).resolves.toBeDefined();
    await expectInvalid(guard.verify(tokenOf({ iat: now - 605 })), 'ERR_TOKEN_EXPIRED');
  });
});

describe('required claims (RFC 9068 §2.2) and their opt-outs', () => {
  it.each(['exp', 'iat', 'sub'])('%s missing → ERR_CLAIM_MISSING', async (claim) => {
    await expectInvalid(
      guardWith().verify(mint.sign(keys.ES256, { [claim]: undefined })),
      'ERR_CLAIM_MISSING',
      claim,
    );
  });

  it.each([
    ['exp', { exp: false }],
    ['iat', { iat: false }],
    ['sub', { sub: false }],
  ])('%s may be opted out', async (claim, requiredClaims) => {
    const auth = await guardWith({ requiredClaims }).verify(
      mint.sign(keys.ES256, { [claim]: undefined }),
    );
    expect(auth.claims[claim]).toBeUndefined();
  });

  it('without sub the context has no subject', async () => {
    const auth = await guardWith({ requiredClaims: { sub: false } }).verify(
      mint.sign(keys.ES256, { sub: undefined }),
    );
    expect(auth.subject).toBeUndefined();
  });

  it.each([
    ['a number', 42],
    ['an object', { id: 'alice' }],
    ['an array', ['alice']],
    ['null', null],
  ])('sub as %s → ERR_CLAIM_INVALID, also when sub is optional', async (_name, sub) => {
    const token = mint.sign(keys.ES256, { sub });
    await expectInvalid(guardWith().verify(token), 'ERR_CLAIM_INVALID', 'sub');
    await expectInvalid(
      guardWith({ requiredClaims: { sub: false } }).verify(token),
      'ERR_CLAIM_INVALID',
      'sub',
    );
  });

  // JSON's "\ud800" escape is valid JSON but no Unicode text: such an identifier cannot be
  // written faithfully to a UTF-8 store (a revocation in Redis) or a log.
  it.each([
    ['sub', 'alice\ud800'],
    ['sub', '\udc00alice'],
    ['jti', 'jti-\udbff'],
    ['client_id', '\ud800'],
  ])('%s with a lone surrogate → ERR_CLAIM_INVALID', async (claim, value) => {
    await expectInvalid(
      guardWith().verify(mint.sign(keys.ES256, { [claim]: value })),
      'ERR_CLAIM_INVALID',
      claim,
    );
  });

  it('accepts a sub with a surrogate pair (an emoji is well-formed text)', async () => {
    await expect(
      guardWith().verify(mint.sign(keys.ES256, { sub: 'alice 😀' })),
    ).resolves.toMatchObject({
      subject: 'alice 😀',
    });
  });

  it.each([
    ['jti', 42],
    ['client_id', ['c1']],
  ])('%s of the wrong type → ERR_CLAIM_INVALID', async (claim, value) => {
    await expectInvalid(
      guardWith().verify(mint.sign(keys.ES256, { [claim]: value })),
      'ERR_CLAIM_INVALID',
      claim,
    );
  });
});

describe('aud (RFC 7519 §4.1.3): exact match of one element', () => {
  const guard = guardWith();

  it.each([
    ['the audience as a string', AUDIENCE],
    ['an array holding the audience', ['https://other.example/', AUDIENCE]],
  ])('%s is accepted', async (_name, aud) => {
    await expect(guard.verify(mint.sign(keys.ES256, { aud }))).resolves.toBeDefined();
  });

  it.each([
    ['another audience', 'https://other.example/'],
    ['a prefix of the audience', 'https://api.example'],
    ['the audience with a suffix', 'https://api.example/admin'],
    ['the audience in another case', 'https://API.example/'],
    ['an array without the audience', ['https://other.example/']],
    ['missing', undefined],
  ])('%s → ERR_AUDIENCE_INVALID', async (_name, aud) => {
    await expectInvalid(
      guard.verify(mint.sign(keys.ES256, { aud })),
      'ERR_AUDIENCE_INVALID',
      'aud',
    );
  });

  it.each([
    ['an empty array', []],
    ['an array with a number', [AUDIENCE, 1]],
    ['an array with null', [AUDIENCE, null]],
    ['a nested array', [[AUDIENCE]]],
    ['a number', 42],
    ['an object', { aud: AUDIENCE }],
  ])('%s → ERR_CLAIM_INVALID', async (_name, aud) => {
    await expectInvalid(guard.verify(mint.sign(keys.ES256, { aud })), 'ERR_CLAIM_INVALID', 'aud');
  });

  it('a list of audiences accepts any one of them', async () => {
    const several = guardWith({ audience: ['https://a.example/', 'https://b.example/'] });
    await expect(
      several.verify(mint.sign(keys.ES256, { aud: 'https://b.example/' })),
    ).resolves.toBeDefined();
    await expectInvalid(several.verify(mint.sign(keys.ES256)), 'ERR_AUDIENCE_INVALID');
  });

  it('audience: null skips matching but still refuses an ill-typed aud', async () => {
    const optedOut = guardWith({ audience: null });
    await expect(optedOut.verify(mint.sign(keys.ES256, { aud: undefined }))).resolves.toBeDefined();
    await expect(
      optedOut.verify(mint.sign(keys.ES256, { aud: 'https://x.example/' })),
    ).resolves.toBeDefined();
    await expectInvalid(optedOut.verify(mint.sign(keys.ES256, { aud: 42 })), 'ERR_CLAIM_INVALID');
  });
});
