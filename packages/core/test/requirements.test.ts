// Route requirements: scopes (all of, any of), claim conditions and audiences, defined once and
// checked by guard.authorize with a 403 (or 401 for an audience) and its RFC 6750 challenge.
import {
  ConfigurationError,
  createGuard,
  defineRequirement,
  mergeRequirements,
  type AuthContext,
  type GuardOptions,
  type RequirementSpec,
} from '@jwt-guard/core';
import { createTestClock, createTokenFactory, refusalOfSync, testKeys } from '@jwt-guard/testkit';

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
    // requireScope() / @RequireScope() with no argument: would let any valid token through.
    ['an empty scopes', { scopes: [] }],
    ['a claim with two conditions', { claims: [{ claim: 'a', equals: 'x', includes: 'x' }] }],
    ['a claim compared with an object', { claims: [{ claim: 'a', equals: {} }] }],
    ['an empty audience', { audience: '' }],
  ])('defining %s is a ConfigurationError', (_name, spec) => {
    expect(() => defineRequirement(spec as RequirementSpec)).toThrow(ConfigurationError);
  });
});
