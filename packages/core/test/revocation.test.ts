import {
  ConfigurationError,
  createGuard,
  createMemoryStore,
  defineRequirement,
  type GuardEvent,
  type GuardOptions,
  type TokenStore,
} from '@jwt-guard/core';
import {
  bearerRequest,
  createEventRecorder,
  createTestClock,
  createTokenFactory,
  refusalOf,
  refusalOfSync,
  testKeys,
  type Refusal,
} from '@jwt-guard/testkit';

const ISSUER = 'https://idp.example/';
const OTHER_ISSUER = 'https://other.idp.example/';
const AUDIENCE = 'https://api.example/';
const REVOKED_CHALLENGE =
  'Bearer error="invalid_token", error_description="The access token was revoked"';
const REPLAYED_CHALLENGE =
  'Bearer error="invalid_token", error_description="The access token was already used"';

const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });

function guardWith(options: Partial<GuardOptions> = {}) {
  const events = createEventRecorder<GuardEvent>();
  const guard = createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: keys.ES256.jwk,
    clock,
    onEvent: events.listener,
    ...options,
  });
  return { guard, events };
}

/** The memory store with one method replaced, to inject a store's failure or odd answer. */
function storeWith(override: Partial<TokenStore>): TokenStore {
  return { ...createMemoryStore({ clock }), ...override };
}

/** A store failure as a Redis client reports it: its message quotes the key, i.e. the jti. */
function storeFailure(jti: string): Error {
  return Object.assign(new Error(`GET revoked:${jti} failed: connect ECONNREFUSED`), {
    code: 'ECONNREFUSED',
  });
}

function expectStoreUnavailable(error: Refusal, jti: string): void {
  expect(error.code).toBe('ERR_STORE_UNAVAILABLE');
  expect(error.status).toBe(503);
  // A store outage says nothing about the token: no Bearer challenge (RFC 6750 §3 is for
  // authentication failures), so clients retry rather than discard their token.
  expect(error.headers['WWW-Authenticate']).toBeUndefined();
  expect(error.message).not.toContain(jti);
  expect(JSON.stringify(error.toJSON())).not.toContain(jti);
}

function payloadOf(token: string): { jti: string; exp: number; iat: number } {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as {
    jti: string;
    exp: number;
    iat: number;
  };
}

describe('revocation', () => {
  it('refuses a revoked token with 401 ERR_TOKEN_REVOKED and the invalid_token challenge', async () => {
    const store = createMemoryStore({ clock });
    const { guard, events } = guardWith({ store });
    const token = mint.sign(keys.ES256);
    const { jti, exp } = payloadOf(token);
    await store.revokeToken({ jti, expiresAt: exp });

    const error = await refusalOf(guard.authenticate(bearerRequest(token)));
    expect(error.code).toBe('ERR_TOKEN_REVOKED');
    expect(error.status).toBe(401);
    expect(error.headers['WWW-Authenticate']).toBe(REVOKED_CHALLENGE);
    expect(events.ofType('token.rejected')).toEqual([
      expect.objectContaining({ code: 'ERR_TOKEN_REVOKED', jti }),
    ]);
  });

  it('never serves a revoked token from the verified-token cache', async () => {
    const store = createMemoryStore({ clock });
    const { guard, events } = guardWith({ store });
    const token = mint.sign(keys.ES256);
    const { jti, exp } = payloadOf(token);
    await guard.verify(token);
    await guard.verify(token);
    expect(events.ofType('token.accepted').map((e) => e.cached)).toEqual([false, true]);

    await store.revokeToken({ jti, expiresAt: exp });
    const error = await refusalOf(guard.verify(token));
    expect(error.code).toBe('ERR_TOKEN_REVOKED');
    expect(error.headers['WWW-Authenticate']).toBe(REVOKED_CHALLENGE);
    // Still refused on the next request: the refusal did not depend on a cache miss.
    expect((await refusalOf(guard.verify(token))).code).toBe('ERR_TOKEN_REVOKED');
  });

  it('revokeSubject refuses cached tokens issued before, and accepts those issued after', async () => {
    const store = createMemoryStore({ clock });
    const { guard } = guardWith({ store });
    const before = [mint.sign(keys.ES256), mint.sign(keys.ES256)];
    const otherSubject = mint.sign(keys.ES256, { sub: 'user-2' });
    for (const token of [...before, otherSubject]) await guard.verify(token);

    clock.advanceSeconds(10);
    try {
      await store.revokeSubject({ sub: 'user-1', issuedBefore: clock.nowSeconds() });
      for (const token of before) {
        expect((await refusalOf(guard.verify(token))).code).toBe('ERR_TOKEN_REVOKED');
      }
      expect((await guard.verify(otherSubject)).subject).toBe('user-2');
      expect((await guard.verify(mint.sign(keys.ES256))).subject).toBe('user-1');
    } finally {
      clock.advanceSeconds(-10);
    }
  });

  it('revokeSubject scoped to another issuer leaves this issuer’s tokens alone', async () => {
    const store = createMemoryStore({ clock });
    const { guard } = guardWith({ store });
    const token = mint.sign(keys.ES256);
    await store.revokeSubject({
      sub: 'user-1',
      issuedBefore: clock.nowSeconds() + 1,
      iss: OTHER_ISSUER,
    });
    expect((await guard.verify(token)).subject).toBe('user-1');
    await store.revokeSubject({ sub: 'user-1', issuedBefore: clock.nowSeconds() + 1, iss: ISSUER });
    expect((await refusalOf(guard.verify(token))).code).toBe('ERR_TOKEN_REVOKED');
  });

  describe.each([
    ['synchronously', (revoked: boolean) => revoked],
    ['with a Promise', (revoked: boolean) => Promise.resolve(revoked)],
  ])('a store answering %s', (_name, answer) => {
    it('accepts a token it does not list and refuses one it does', async () => {
      const inner = createMemoryStore({ clock });
      const store: TokenStore = {
        ...inner,
        isRevoked: (claims) => answer(inner.isRevoked(claims) === true),
      };
      const { guard } = guardWith({ store });
      const kept = mint.sign(keys.ES256);
      const revoked = mint.sign(keys.ES256);
      const { jti, exp } = payloadOf(revoked);
      await store.revokeToken({ jti, expiresAt: exp });

      expect((await guard.verify(kept)).subject).toBe('user-1');
      expect((await guard.verify(kept)).subject).toBe('user-1');
      const error = await refusalOf(guard.verify(revoked));
      expect(error.code).toBe('ERR_TOKEN_REVOKED');
      expect(error.headers['WWW-Authenticate']).toBe(REVOKED_CHALLENGE);
    });
  });
});

describe('store unavailable', () => {
  const failures: [string, (jti: string) => TokenStore['isRevoked']][] = [
    [
      'throws',
      (jti) => () => {
        throw storeFailure(jti);
      },
    ],
    ['rejects', (jti) => () => Promise.reject(storeFailure(jti))],
  ];

  describe.each(failures)('when isRevoked %s', (_name, failing) => {
    it('fails closed: 503 ERR_STORE_UNAVAILABLE, no challenge, an event without the jti', async () => {
      const token = mint.sign(keys.ES256);
      const { jti } = payloadOf(token);
      const { guard, events } = guardWith({ store: storeWith({ isRevoked: failing(jti) }) });

      expectStoreUnavailable(await refusalOf(guard.authenticate(bearerRequest(token))), jti);
      const [event] = events.ofType('store.unavailable');
      expect(event).toEqual({
        type: 'store.unavailable',
        allowed: false,
        reason: expect.any(String),
      });
      expect(event?.reason).toContain('ECONNREFUSED');
      expect(JSON.stringify(events.ofType('store.unavailable'))).not.toContain(jti);
    });

    it('fails open with storeUnavailable: allow, emitting the event on every request', async () => {
      const token = mint.sign(keys.ES256);
      const { jti } = payloadOf(token);
      const { guard, events } = guardWith({
        store: storeWith({ isRevoked: failing(jti) }),
        storeUnavailable: 'allow',
      });

      for (let i = 0; i < 3; i++) expect((await guard.verify(token)).subject).toBe('user-1');
      // The second and third come from the cache: fail-open is reported there too.
      expect(events.ofType('token.accepted').map((e) => e.cached)).toEqual([false, true, true]);
      expect(events.ofType('store.unavailable')).toEqual(
        Array(3).fill({ type: 'store.unavailable', allowed: true, reason: expect.any(String) }),
      );
      expect(JSON.stringify(events.ofType('store.unavailable'))).not.toContain(jti);
    });
  });

  it.each([
    ['undefined', undefined],
    ['the string "false"', 'false'],
    ['a Promise of undefined', Promise.resolve(undefined)],
  ])(
    'treats an answer of %s as a broken store: 503, not a verdict on the token',
    async (_name, value) => {
      const token = mint.sign(keys.ES256);
      const { jti } = payloadOf(token);
      const { guard, events } = guardWith({
        store: storeWith({ isRevoked: () => value as unknown as boolean }),
      });
      expectStoreUnavailable(await refusalOf(guard.verify(token)), jti);
      expect(events.ofType('store.unavailable')).toEqual([
        { type: 'store.unavailable', allowed: false, reason: expect.any(String) },
      ]);
    },
  );
});

describe('consumeOnce', () => {
  it('accepts a token once in all without a scope: one-time routes share one record', async () => {
    const { guard } = guardWith({ store: createMemoryStore({ clock }) });
    const auth = await guard.verify(mint.sign(keys.ES256));
    await guard.consumeOnce(auth);

    const error = await refusalOf(guard.consumeOnce(auth));
    expect(error.code).toBe('ERR_TOKEN_REPLAYED');
    expect(error.status).toBe(401);
    expect(error.headers['WWW-Authenticate']).toBe(REPLAYED_CHALLENGE);
  });

  it('accepts a token once per named scope, then 401 ERR_TOKEN_REPLAYED', async () => {
    const { guard } = guardWith({ store: createMemoryStore({ clock }) });
    const auth = await guard.verify(mint.sign(keys.ES256));
    await guard.consumeOnce(auth, 'route-a');

    const error = await refusalOf(guard.consumeOnce(auth, 'route-a'));
    expect(error.code).toBe('ERR_TOKEN_REPLAYED');
    expect(error.status).toBe(401);
    expect(error.headers['WWW-Authenticate']).toBe(REPLAYED_CHALLENGE);
    // Another route keeps its own record of uses.
    await guard.consumeOnce(auth, 'route-b');
    expect((await refusalOf(guard.consumeOnce(auth, 'route-b'))).code).toBe('ERR_TOKEN_REPLAYED');
  });

  it('works without a configured store (the embedded default)', async () => {
    const { guard } = guardWith();
    const auth = await guard.verify(mint.sign(keys.ES256));
    await guard.consumeOnce(auth, 'route-a');
    expect((await refusalOf(guard.consumeOnce(auth, 'route-a'))).code).toBe('ERR_TOKEN_REPLAYED');
  });

  it('keeps the same jti from two issuers apart', async () => {
    const other = createTokenFactory({ issuer: OTHER_ISSUER, audience: AUDIENCE, clock });
    const { guard } = guardWith({
      keys: undefined,
      issuer: [
        { issuer: ISSUER, keys: keys.ES256.jwk },
        { issuer: OTHER_ISSUER, keys: keys.EdDSA.jwk },
      ],
    });
    const first = await guard.verify(mint.sign(keys.ES256, { jti: 'shared' }));
    const second = await guard.verify(other.sign(keys.EdDSA, { jti: 'shared' }));
    await guard.consumeOnce(first, 'route-a');
    await guard.consumeOnce(second, 'route-a');
  });

  it('refuses a token without jti with 401 ERR_CLAIM_MISSING', async () => {
    const { guard } = guardWith();
    const auth = await guard.verify(mint.sign(keys.ES256, { jti: undefined }));
    const error = await refusalOf(guard.consumeOnce(auth, 'route-a'));
    expect(error.code).toBe('ERR_CLAIM_MISSING');
    expect(error.status).toBe(401);
    expect(error.headers['WWW-Authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The access token lacks a required claim"',
    );
  });

  it('refuses an anonymous caller with 401 ERR_TOKEN_MISSING', async () => {
    const { guard } = guardWith();
    const error = await refusalOf(guard.consumeOnce(undefined, 'route-a'));
    expect(error.code).toBe('ERR_TOKEN_MISSING');
    expect(error.status).toBe(401);
    // RFC 6750 §3.1: no error attribute when the request carried no credentials.
    expect(error.headers['WWW-Authenticate']).toBe('Bearer');
  });

  it('lets exactly one of 100 concurrent uses through', async () => {
    const { guard } = guardWith({ store: createMemoryStore({ clock }) });
    const token = mint.sign(keys.ES256);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 100 }, async () => {
        const auth = await guard.authenticate(bearerRequest(token));
        await guard.consumeOnce(auth, 'route-a');
      }),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const codes = outcomes.flatMap((o) =>
      o.status === 'rejected' ? [(o.reason as Refusal).code] : [],
    );
    expect(codes).toEqual(Array(99).fill('ERR_TOKEN_REPLAYED'));
  });

  it.each([
    [
      'throws',
      (jti: string): TokenStore['consumeOnce'] =>
        () => {
          throw storeFailure(jti);
        },
    ],
    [
      'rejects',
      (jti: string): TokenStore['consumeOnce'] =>
        () =>
          Promise.reject(storeFailure(jti)),
    ],
  ])(
    'fails closed when the store %s, even with storeUnavailable: allow',
    async (_name, failing) => {
      const token = mint.sign(keys.ES256);
      const { jti } = payloadOf(token);
      const { guard, events } = guardWith({
        store: storeWith({ consumeOnce: failing(jti) }),
        storeUnavailable: 'allow',
      });
      const auth = await guard.verify(token);
      expectStoreUnavailable(await refusalOf(guard.consumeOnce(auth, 'route-a')), jti);
      expect(events.ofType('store.unavailable')).toEqual([
        { type: 'store.unavailable', allowed: false, reason: expect.any(String) },
      ]);
      expect(JSON.stringify(events.ofType('store.unavailable'))).not.toContain(jti);
    },
  );
});

describe('credentialsRequired: false', () => {
  const optional = (options: Partial<GuardOptions> = {}) =>
    createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: keys.ES256.jwk,
      clock,
      credentialsRequired: false,
      ...options,
    });

  it('resolves undefined for a request without any token', async () => {
    const guard = optional();
    expect(await guard.authenticate({ method: 'GET', url: '/', headers: {} })).toBeUndefined();
  });

  it('still verifies a token that is sent', async () => {
    const guard = optional();
    expect((await guard.authenticate(bearerRequest(mint.sign(keys.ES256))))?.subject).toBe(
      'user-1',
    );
  });

  it('still refuses a malformed token', async () => {
    const error = await refusalOf(optional().authenticate(bearerRequest('not-a-jwt')));
    expect(error.code).toBe('ERR_TOKEN_MALFORMED');
    expect(error.status).toBe(401);
  });

  it('still refuses an expired token', async () => {
    const guard = optional();
    const token = mint.sign(keys.ES256);
    clock.advanceSeconds(3600);
    try {
      const error = await refusalOf(guard.authenticate(bearerRequest(token)));
      expect(error.code).toBe('ERR_TOKEN_EXPIRED');
      expect(error.headers['WWW-Authenticate']).toBe(
        'Bearer error="invalid_token", error_description="The access token expired"',
      );
    } finally {
      clock.advanceSeconds(-3600);
    }
  });

  it('still refuses a revoked token', async () => {
    const store = createMemoryStore({ clock });
    const guard = optional({ store });
    const token = mint.sign(keys.ES256);
    const { jti, exp } = payloadOf(token);
    await store.revokeToken({ jti, expiresAt: exp });
    expect((await refusalOf(guard.authenticate(bearerRequest(token)))).code).toBe(
      'ERR_TOKEN_REVOKED',
    );
  });

  it('authorize refuses the anonymous caller on a guarded route with 401 ERR_TOKEN_MISSING', () => {
    const error = refusalOfSync(() =>
      optional().authorize(undefined, defineRequirement({ scopes: ['read:items'] })),
    );
    expect(error.code).toBe('ERR_TOKEN_MISSING');
    expect(error.status).toBe(401);
    expect(error.headers['WWW-Authenticate']).toBe('Bearer');
  });
});

describe('options', () => {
  function configurationError(options: Record<string, unknown>): ConfigurationError {
    try {
      createGuard({ issuer: ISSUER, audience: AUDIENCE, keys: keys.ES256.jwk, ...options });
    } catch (error) {
      if (error instanceof ConfigurationError) return error;
      throw error;
    }
    throw new Error('expected a ConfigurationError');
  }

  it.each([
    ['an empty object', {}],
    ['a store without consumeOnce', { ...createMemoryStore(), consumeOnce: undefined }],
    ['a string', 'redis://127.0.0.1:6379'],
    ['null', null],
  ])('refuses store: %s, pointing to createMemoryStore', (_name, store) => {
    expect(configurationError({ store }).message).toContain('createMemoryStore');
  });

  it('refuses storeUnavailable: maybe', () => {
    expect(configurationError({ storeUnavailable: 'maybe' }).message).toBe(
      '"storeUnavailable" must be one of reject, allow',
    );
  });

  it('refuses credentialsRequired: "no"', () => {
    expect(configurationError({ credentialsRequired: 'no' }).message).toBe(
      '"credentialsRequired" must be true or false',
    );
  });
});

// The guard accepts a token until exp + clockToleranceSeconds; its revocation and its one-time
// use must last as long, or the token comes back (or is refused) inside that window.
describe('revocation and one-time use inside the clock tolerance after exp', () => {
  it('still refuses a revoked token 2 s after its exp', async () => {
    const store = createMemoryStore({ clock });
    const { guard } = guardWith({ store });
    const token = mint.sign(keys.ES256, { exp: clock.nowSeconds() + 60 });
    const auth = await guard.verify(token);
    await store.revokeToken({
      jti: auth.claims.jti as string,
      expiresAt: auth.claims.exp as number,
    });
    const start = clock.nowMs();
    clock.advanceSeconds(62);
    try {
      const error = await refusalOf(guard.verify(token));
      expect(error.code).toBe('ERR_TOKEN_REVOKED');
    } finally {
      clock.set(start);
    }
  });

  it('keeps a one-time key past exp by its own tolerance, also in a store that adds none', async () => {
    // A custom store that keeps a key exactly until the expiry it is given.
    const kept: { key: string; expiresAt: number }[] = [];
    const memory = createMemoryStore({ clock, clockToleranceSeconds: 30 });
    const exact: TokenStore = {
      revokeToken: (revocation) => memory.revokeToken(revocation),
      revokeSubject: (revocation) => memory.revokeSubject(revocation),
      isRevoked: (claims) => memory.isRevoked(claims),
      consumeOnce(key, expiresAt) {
        const now = clock.nowSeconds();
        const live = kept.some((k) => k.key === key && k.expiresAt > now);
        if (!live) kept.push({ key, expiresAt: expiresAt as number });
        return Promise.resolve(!live);
      },
    };
    const { guard } = guardWith({ store: exact, clockToleranceSeconds: 30 });
    const token = mint.sign(keys.ES256, { exp: clock.nowSeconds() + 60 });
    const auth = await guard.verify(token);
    await guard.consumeOnce(auth, 'route');
    expect(kept.map((k) => k.expiresAt)).toEqual([(auth.claims.exp as number) + 30]);
    const start = clock.nowMs();
    // Past exp, inside the tolerance: the guard still accepts the token, so the key must hold.
    clock.advanceSeconds(80);
    try {
      const late = await guard.verify(token);
      expect((await refusalOf(guard.consumeOnce(late, 'route'))).code).toBe('ERR_TOKEN_REPLAYED');
    } finally {
      clock.set(start);
    }
  });

  it('accepts the first use of a one-time token 2 s after its exp', async () => {
    const { guard } = guardWith({ store: createMemoryStore({ clock }) });
    const token = mint.sign(keys.ES256, { exp: clock.nowSeconds() + 60 });
    const start = clock.nowMs();
    clock.advanceSeconds(62);
    try {
      const auth = await guard.verify(token);
      await expect(guard.consumeOnce(auth, 'route')).resolves.toBeUndefined();
      expect((await refusalOf(guard.consumeOnce(auth, 'route'))).code).toBe('ERR_TOKEN_REPLAYED');
    } finally {
      clock.set(start);
    }
  });
});
