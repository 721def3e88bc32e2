import {
  ConfigurationError,
  createGuard,
  defineRequirement,
  describeError,
  mergeRequirements,
  type AuthContext,
  type ErrorCode,
  type GuardOptions,
  type RequirementSpec,
} from '@jwt-guard/core';
import {
  createTestClock,
  createTokenFactory,
  refusalOf,
  refusalOfSync,
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

describe('route requirements', () => {
  const guard = guardWith();
  const contextOf = (claims: Record<string, unknown>): Promise<AuthContext> =>
    guard.verify(mint.sign(keys.ES256, claims));
  const allowed = async (claims: Record<string, unknown>, spec: RequirementSpec) => {
    const auth = await contextOf(claims);
    expect(() => guard.authorize(auth, defineRequirement(spec))).not.toThrow();
  };
  async function refusal(claims: Record<string, unknown>, spec: RequirementSpec) {
    const auth = await contextOf(claims);
    return refusalOfSync(() => guard.authorize(auth, defineRequirement(spec)));
  }

  const insufficientScope = (scope: string) =>
    `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="${scope}"`;
  const claimMismatch =
    'Bearer error="insufficient_scope", error_description="The access token does not meet the requirements of this resource"';

  it('all-of scopes: every one is needed; the challenge names them all', async () => {
    const spec = { scopes: ['read:items', 'write:items'] };
    await allowed({ scope: 'write:items read:items admin' }, spec);
    const error = await refusal({ scope: 'read:items' }, spec);
    expect({ code: error.code, status: error.status, requirement: error.requirement }).toEqual({
      code: 'ERR_SCOPE_INSUFFICIENT',
      status: 403,
      requirement: 'scope',
    });
    expect(error.headers['WWW-Authenticate']).toBe(insufficientScope('read:items write:items'));
  });

  it('any-of scopes: one is enough; the challenge names the alternatives', async () => {
    const spec = { anyScopes: ['admin', 'write:items'] };
    await allowed({ scope: 'read:items write:items' }, spec);
    const error = await refusal({ scope: 'read:items' }, spec);
    expect(error.code).toBe('ERR_SCOPE_INSUFFICIENT');
    expect(error.headers['WWW-Authenticate']).toBe(insufficientScope('admin write:items'));
  });

  it.each([
    ['a longer scope', 'read:itemsX'],
    ['another case', 'READ:ITEMS'],
    ['a sub-scope', 'read:items:all'],
    ['a prefixed scope', 'xread:items'],
    ['a shorter scope', 'read'],
    ['a comma-joined list', 'read:items,write:items'],
    ['a tab-joined list', 'read:items\twrite:items'],
    ['no scope', undefined],
  ])('%s never satisfies read:items', async (_name, scope) => {
    const error = await refusal({ scope }, { scopes: ['read:items'] });
    expect(error.headers['WWW-Authenticate']).toBe(insufficientScope('read:items'));
  });

  it('a scope requirement reads the configured scope claim', async () => {
    const scp = guardWith({ scopeClaim: 'scp' });
    const auth = await scp.verify(mint.sign(keys.ES256, { scope: 'admin', scp: ['read:items'] }));
    expect(() => scp.authorize(auth, defineRequirement({ scopes: ['read:items'] }))).not.toThrow();
    expect(
      refusalOfSync(() => scp.authorize(auth, defineRequirement({ scopes: ['admin'] }))).code,
    ).toBe('ERR_SCOPE_INSUFFICIENT');
  });

  describe('claim conditions', () => {
    it.each([
      ['equals a string', { tenant: 'acme' }, { claim: 'tenant', equals: 'acme' }],
      ['equals a number', { level: 2 }, { claim: 'level', equals: 2 }],
      ['equals a boolean', { mfa: true }, { claim: 'mfa', equals: true }],
      ['includes in an array', { roles: ['user', 'admin'] }, { claim: 'roles', includes: 'admin' }],
      [
        'a predicate',
        { level: 3 },
        { claim: 'level', predicate: (v: unknown) => (v as number) >= 2 },
      ],
    ] as const)('%s holds', async (_name, claims, condition) => {
      await allowed(claims, { claims: [condition] });
    });

    it.each([
      ['equals: another case', { tenant: 'ACME' }, { claim: 'tenant', equals: 'acme' }],
      [
        'equals: an array holding the value',
        { tenant: ['acme'] },
        { claim: 'tenant', equals: 'acme' },
      ],
      ['equals: the number as a string', { level: '2' }, { claim: 'level', equals: 2 }],
      ['equals: missing claim', {}, { claim: 'tenant', equals: 'acme' }],
      [
        'includes: a string containing the value',
        { roles: 'superadmin' },
        { claim: 'roles', includes: 'admin' },
      ],
      [
        'includes: an array without the value',
        { roles: ['administrator'] },
        { claim: 'roles', includes: 'admin' },
      ],
      [
        'predicate: false',
        { level: 1 },
        { claim: 'level', predicate: (v: unknown) => (v as number) >= 2 },
      ],
      [
        'predicate: truthy but not true',
        { level: 1 },
        { claim: 'level', predicate: () => 1 as unknown as boolean },
      ],
      [
        'predicate: throws',
        {},
        {
          claim: 'profile',
          predicate: (v: unknown) => (v as { verified: boolean }).verified,
        },
      ],
    ] as const)('%s → 403 ERR_CLAIM_MISMATCH', async (_name, claims, condition) => {
      const error = await refusal(claims, { claims: [condition] });
      expect({ code: error.code, status: error.status, requirement: error.requirement }).toEqual({
        code: 'ERR_CLAIM_MISMATCH',
        status: 403,
        requirement: `claim:${condition.claim}`,
      });
      expect(error.headers['WWW-Authenticate']).toBe(claimMismatch);
    });

    it('a predicate receives the claim value and the frozen claims set', async () => {
      const seen: unknown[] = [];
      await allowed(
        { tenant: 'acme' },
        {
          claims: [
            {
              claim: 'tenant',
              predicate: (value, claims) => {
                seen.push(value, Object.isFrozen(claims), claims.iss);
                return true;
              },
            },
          ],
        },
      );
      expect(seen).toEqual(['acme', true, ISSUER]);
    });
  });

  it('an audience requirement needs one of its values in aud → 401 ERR_AUDIENCE_INVALID', async () => {
    const multi = guardWith({ audience: AUDIENCE });
    const auth = await multi.verify(
      mint.sign(keys.ES256, { aud: [AUDIENCE, 'https://billing.example/'] }),
    );
    expect(() =>
      multi.authorize(auth, defineRequirement({ audience: 'https://billing.example/' })),
    ).not.toThrow();
    const error = refusalOfSync(() =>
      multi.authorize(auth, defineRequirement({ audience: ['https://admin.example/'] })),
    );
    expect({ code: error.code, status: error.status, requirement: error.requirement }).toEqual({
      code: 'ERR_AUDIENCE_INVALID',
      status: 401,
      requirement: 'audience',
    });
  });

  it('merged requirements (controller + handler) all apply', async () => {
    const merged = mergeRequirements(
      defineRequirement({ scopes: ['orders'], anyScopes: ['eu', 'us'] }),
      defineRequirement({ scopes: ['admin'], claims: [{ claim: 'tenant', equals: 'acme' }] }),
    );
    const check = async (claims: Record<string, unknown>) => {
      const auth = await contextOf(claims);
      return () => guard.authorize(auth, merged);
    };
    expect(await check({ scope: 'orders admin us', tenant: 'acme' })).not.toThrow();
    const missingAdmin = refusalOfSync(await check({ scope: 'orders us', tenant: 'acme' }));
    expect(missingAdmin.headers['WWW-Authenticate']).toBe(insufficientScope('orders admin'));
    const missingRegion = refusalOfSync(await check({ scope: 'orders admin', tenant: 'acme' }));
    expect(missingRegion.headers['WWW-Authenticate']).toBe(insufficientScope('eu us'));
    expect(refusalOfSync(await check({ scope: 'orders admin eu', tenant: 'umbrella' })).code).toBe(
      'ERR_CLAIM_MISMATCH',
    );
  });

  it.each([
    ['a scope with a space', { scopes: ['read items'] }],
    ['a scope with a quote', { scopes: ['read"items'] }],
    ['an empty scope', { scopes: [''] }],
    ['an empty anyScopes', { anyScopes: [] }],
    ['a claim with two conditions', { claims: [{ claim: 'a', equals: 'x', includes: 'x' }] }],
    ['a claim compared with an object', { claims: [{ claim: 'a', equals: {} }] }],
    ['an empty audience', { audience: '' }],
  ])('defining %s is a ConfigurationError', (_name, spec) => {
    expect(() => defineRequirement(spec as RequirementSpec)).toThrow(ConfigurationError);
  });
});
