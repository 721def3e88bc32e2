// Reading a token's scopes (RFC 9068 §2.2.3): the configured claim, split on spaces only.
import { createGuard, describeError, type ErrorCode, type GuardOptions } from '@jwt-guard/core';
import { createTestClock, createTokenFactory, refusalOf, testKeys } from '@jwt-guard/testkit';

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });

function guardWith(options: Partial<GuardOptions> = {}) {
  return createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
    keys: keys.ES256.jwk,
    ...options,
  });
}

async function expectInvalid(promise: Promise<unknown>, code: ErrorCode, requirement?: string) {
  const error = await refusalOf(promise);
  expect({ code: error.code, status: error.status }).toEqual({ code, status: 401 });
  expect(error.headers['WWW-Authenticate']).toBe(
    `Bearer error="invalid_token", error_description="${describeError(code).text}"`,
  );
  if (requirement !== undefined) expect(error.requirement).toBe(requirement);
}

describe('scopes', () => {
  const scopesOf = async (claims: Record<string, unknown>, options: Partial<GuardOptions> = {}) =>
    (await guardWith(options).verify(mint.sign(keys.ES256, claims))).scopes;

  it('scope is a space-separated string (RFC 9068 §2.2.3)', async () => {
    expect(await scopesOf({ scope: 'read:items  write:items ' })).toEqual([
      'read:items',
      'write:items',
    ]);
    expect(await scopesOf({ scope: '' })).toEqual([]);
    expect(await scopesOf({ scope: undefined })).toEqual([]);
  });

  it('only a space separates: a tab or comma keeps one token', async () => {
    expect(await scopesOf({ scope: 'read:items\twrite:items' })).toEqual([
      'read:items\twrite:items',
    ]);
    expect(await scopesOf({ scope: 'read:items,write:items' })).toEqual(['read:items,write:items']);
  });

  it.each([
    ['an array', ['read:items']],
    ['a number', 1],
    ['an object', { read: true }],
    ['null', null],
  ])('scope as %s → ERR_CLAIM_INVALID', async (_name, scope) => {
    await expectInvalid(
      guardWith().verify(mint.sign(keys.ES256, { scope })),
      'ERR_CLAIM_INVALID',
      'scope',
    );
  });

  it('scp and permissions are read only when configured', async () => {
    const claims = { scope: undefined, scp: ['read:items', 'write:items'], permissions: ['admin'] };
    expect(await scopesOf(claims)).toEqual([]);
    expect(await scopesOf(claims, { scopeClaim: 'scp' })).toEqual(['read:items', 'write:items']);
    expect(await scopesOf(claims, { scopeClaim: 'permissions' })).toEqual(['admin']);
    expect(await scopesOf({ scp: 'read:items write:items' }, { scopeClaim: 'scp' })).toEqual([
      'read:items',
      'write:items',
    ]);
  });

  it('scp with a non-string element → ERR_CLAIM_INVALID', async () => {
    await expectInvalid(
      guardWith({ scopeClaim: 'scp' }).verify(mint.sign(keys.ES256, { scp: ['read:items', 7] })),
      'ERR_CLAIM_INVALID',
      'scp',
    );
  });

  it('a per-issuer scopeClaim applies to that issuer only', async () => {
    const other = 'https://other.example/';
    const guard = guardWith({
      issuer: [{ issuer: ISSUER }, { issuer: other, scopeClaim: 'scp' }],
    });
    const claims = { scope: 'from-scope', scp: ['from-scp'] };
    expect((await guard.verify(mint.sign(keys.ES256, claims))).scopes).toEqual(['from-scope']);
    expect((await guard.verify(mint.sign(keys.ES256, { ...claims, iss: other }))).scopes).toEqual([
      'from-scp',
    ]);
  });
});
