import {
  createGuard,
  isJwtGuardError,
  type GuardOptions,
  type JwtGuardError,
} from '@jwt-guard/core';
import {
  ASYMMETRIC_ALGORITHMS,
  createTestClock,
  createTokenFactory,
  startKeyServer,
  testKeys,
  type KeyServer,
} from '@jwt-guard/testkit';

const audience = 'https://api.example/';

async function rejection(promise: Promise<unknown>): Promise<JwtGuardError> {
  try {
    await promise;
  } catch (error) {
    if (isJwtGuardError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('createGuard', () => {
  const keys = testKeys();
  const clock = createTestClock();
  let server: KeyServer;

  beforeAll(async () => {
    server = await startKeyServer({ keys: ASYMMETRIC_ALGORITHMS.map((alg) => keys[alg]) });
  });
  afterAll(() => server.close());

  const options = (): GuardOptions => ({ issuer: server.issuer, audience, clock });

  it.each(ASYMMETRIC_ALGORITHMS)('accepts a valid %s token found by discovery', async (alg) => {
    const guard = createGuard(options());
    const mint = createTokenFactory({ issuer: server.issuer, audience, clock });
    const auth = await guard.authenticate({
      method: 'GET',
      url: '/items',
      headers: [
        'Authorization',
        `Bearer ${mint.sign(keys[alg], { scope: 'read:items write:items' })}`,
      ],
    });
    expect(auth.issuer).toBe(server.issuer);
    expect(auth.subject).toBe('user-1');
    expect(auth.scopes).toEqual(['read:items', 'write:items']);
    expect(auth.header.alg).toBe(alg);
  });

  it('answers 401 without error attribute when no token was sent', async () => {
    const guard = createGuard(options());
    const error = await rejection(guard.authenticate({ method: 'GET', url: '/', headers: {} }));
    expect(error.code).toBe('ERR_TOKEN_MISSING');
    expect(error.status).toBe(401);
    expect(error.headers['WWW-Authenticate']).toBe('Bearer');
  });

  it('answers 401 invalid_token for an expired token, also from the cache', async () => {
    const guard = createGuard(options());
    const mint = createTokenFactory({ issuer: server.issuer, audience, clock });
    const token = mint.sign(keys.ES256);
    await guard.verify(token);
    clock.advanceSeconds(3600);
    try {
      const error = await rejection(guard.verify(token));
      expect(error.code).toBe('ERR_TOKEN_EXPIRED');
      expect(error.headers['WWW-Authenticate']).toBe(
        'Bearer error="invalid_token", error_description="The access token expired"',
      );
    } finally {
      clock.advanceSeconds(-3600);
    }
  });
});
