import {
  ConfigurationError,
  createGuard,
  type GuardEvent,
  type GuardOptions,
} from '@jwt-guard/core';
import { createRedisStore, type RedisTokenStore } from '@jwt-guard/redis';
import {
  createDpopKey,
  createDpopProof,
  createEventRecorder,
  createTokenFactory,
  findRedis,
  freePorts,
  refusalOf,
  testKeys,
  uniqueKeyPrefix,
  waitUntil,
} from '@jwt-guard/testkit';
import { Redis } from 'ioredis';

const REDIS_URL = findRedis();
const describeRedis = REDIS_URL === undefined ? describe.skip : describe;

const ISSUER = 'https://idp.example/';
const OTHER_ISSUER = 'https://other.idp.example/';
const AUDIENCE = 'https://api.example/';
const REVOKED_CHALLENGE =
  'Bearer error="invalid_token", error_description="The access token was revoked"';

const keys = testKeys();
const mint = createTokenFactory({
  issuer: ISSUER,
  audience: AUDIENCE,
  clock: { nowMs: () => Date.now() },
});
const otherMint = createTokenFactory({
  issuer: OTHER_ISSUER,
  audience: AUDIENCE,
  clock: { nowMs: () => Date.now() },
});

function claimsOf(token: string): { jti: string; exp: number } {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as {
    jti: string;
    exp: number;
  };
}

describeRedis('a guard with a Redis store', () => {
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];

  function storeOn(client: Redis, keyPrefix: string): RedisTokenStore {
    clients.push(client);
    const store = createRedisStore({ client, keyPrefix, subjectRevocationTtlSeconds: 60 });
    stores.push(store);
    return store;
  }

  function guardWith(store: RedisTokenStore, options: Partial<GuardOptions> = {}) {
    const events = createEventRecorder<GuardEvent>();
    const guard = createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: keys.ES256.jwk,
      store,
      onEvent: events.listener,
      ...options,
    });
    return { guard, events };
  }

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    for (const client of clients) client.disconnect();
  });

  it('refuses a token revoked on another instance, also when its cache holds it', async () => {
    const keyPrefix = uniqueKeyPrefix('guard');
    const here = storeOn(new Redis(REDIS_URL as string), keyPrefix);
    const there = storeOn(new Redis(REDIS_URL as string), keyPrefix);
    await Promise.all([here.ready(), there.ready()]);
    const { guard } = guardWith(there);
    const token = mint.sign(keys.ES256);
    await guard.verify(token);
    await guard.verify(token);

    const { jti, exp } = claimsOf(token);
    await here.revokeToken({ jti, expiresAt: exp });
    await waitUntil('the revocation to reach the other instance', () =>
      there.isRevoked({ iss: ISSUER, jti }),
    );
    const error = await refusalOf(guard.verify(token));
    expect(error.code).toBe('ERR_TOKEN_REVOKED');
    expect(error.status).toBe(401);
    expect(error.headers['WWW-Authenticate']).toBe(REVOKED_CHALLENGE);
    expect((await guard.verify(mint.sign(keys.ES256))).subject).toBe('user-1');
  });

  // RFC 9449 §11.1: a proof captured from one request must not be replayed to another instance
  // of the fleet; the proof jtis go to the shared store.
  it('refuses, on another instance, a DPoP proof already used on one', async () => {
    const keyPrefix = uniqueKeyPrefix('guard');
    const here = storeOn(new Redis(REDIS_URL as string), keyPrefix);
    const there = storeOn(new Redis(REDIS_URL as string), keyPrefix);
    await Promise.all([here.ready(), there.ready()]);
    const dpop = { origin: 'https://api.example' };
    const first = guardWith(here, { dpop }).guard;
    const second = guardWith(there, { dpop }).guard;
    const key = await createDpopKey();
    const token = mint.sign(keys.ES256, { cnf: { jkt: key.thumbprint } });
    const proof = createDpopProof(key, {
      htm: 'GET',
      htu: 'https://api.example/orders',
      accessToken: token,
    });
    const request = {
      method: 'GET',
      url: '/orders',
      headers: ['Authorization', `DPoP ${token}`, 'DPoP', proof],
    };

    await expect(first.authenticate(request)).resolves.toMatchObject({ token });
    const error = await refusalOf(second.authenticate(request));
    expect({ code: error.code, status: error.status }).toEqual({
      code: 'ERR_DPOP_PROOF_REPLAYED',
      status: 401,
    });
    expect(error.headers['WWW-Authenticate']).toBe(
      'DPoP error="invalid_dpop_proof", error_description="The DPoP proof was already used", algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA", Bearer',
    );
    // A fresh proof by the same key is accepted there.
    const fresh = createDpopProof(key, {
      htm: 'GET',
      htu: 'https://api.example/orders',
      accessToken: token,
    });
    await expect(
      second.authenticate({
        ...request,
        headers: ['Authorization', `DPoP ${token}`, 'DPoP', fresh],
      }),
    ).resolves.toMatchObject({ token });
  });

  it('refuses, on another instance, the token of one issuer revoked by jti and iss', async () => {
    const keyPrefix = uniqueKeyPrefix('guard');
    const here = storeOn(new Redis(REDIS_URL as string), keyPrefix);
    const there = storeOn(new Redis(REDIS_URL as string), keyPrefix);
    await Promise.all([here.ready(), there.ready()]);
    const { guard } = guardWith(there, { issuer: [ISSUER, OTHER_ISSUER] });
    // Two issuers minting the same jti: two tokens.
    const jti = 'shared-jti';
    const mine = mint.sign(keys.ES256, { jti });
    const theirs = otherMint.sign(keys.ES256, { jti });

    const { exp } = claimsOf(mine);
    await here.revokeToken({ jti, iss: ISSUER, expiresAt: exp });
    await waitUntil('the revocation to reach the other instance', () =>
      there.isRevoked({ iss: ISSUER, jti }),
    );
    expect((await refusalOf(guard.verify(mine))).code).toBe('ERR_TOKEN_REVOKED');
    expect((await guard.verify(theirs)).issuer).toBe(OTHER_ISSUER);
  });

  it('is refused at startup by a guard that accepts tokens longer past exp than it keeps them', () => {
    const keyPrefix = uniqueKeyPrefix('guard');
    const client = new Redis(REDIS_URL as string, { lazyConnect: true });
    const short = storeOn(client, keyPrefix);
    expect(short.clockToleranceSeconds).toBe(5);
    expect(() => guardWith(short, { clockToleranceSeconds: 60 })).toThrow(ConfigurationError);

    const long = createRedisStore({ client, keyPrefix, clockToleranceSeconds: 60 });
    stores.push(long);
    expect(() => guardWith(long, { clockToleranceSeconds: 60 })).not.toThrow();
  });

  it('accepts a one-time token once in the whole fleet', async () => {
    const keyPrefix = uniqueKeyPrefix('guard');
    const one = storeOn(new Redis(REDIS_URL as string), keyPrefix);
    const other = storeOn(new Redis(REDIS_URL as string), keyPrefix);
    await Promise.all([one.ready(), other.ready()]);
    const first = guardWith(one).guard;
    const second = guardWith(other).guard;
    const token = mint.sign(keys.ES256);

    await first.consumeOnce(await first.verify(token), 'POST /payments');
    const error = await refusalOf(second.consumeOnce(await second.verify(token), 'POST /payments'));
    expect(error.code).toBe('ERR_TOKEN_REPLAYED');
    expect(error.status).toBe(401);
  });

  describe('while the store is not synchronised', () => {
    // Nothing listens on a fresh free port: the store can never synchronise.
    async function unreachableStore(): Promise<RedisTokenStore> {
      const [port] = await freePorts(1);
      return storeOn(
        new Redis(port as number, '127.0.0.1', {
          enableOfflineQueue: false,
          retryStrategy: () => 50,
        }),
        uniqueKeyPrefix('guard'),
      );
    }

    it('answers 503 ERR_STORE_UNAVAILABLE, with no challenge, by default', async () => {
      const { guard, events } = guardWith(await unreachableStore());
      const error = await refusalOf(guard.verify(mint.sign(keys.ES256)));
      expect(error.code).toBe('ERR_STORE_UNAVAILABLE');
      expect(error.status).toBe(503);
      expect(error.headers['WWW-Authenticate']).toBeUndefined();
      expect(events.ofType('store.unavailable')).toEqual([
        {
          type: 'store.unavailable',
          allowed: false,
          reason: 'RedisStoreError ERR_REDIS_NOT_SYNCED',
        },
      ]);
    });

    it('lets the request through with storeUnavailable: allow, reporting each time', async () => {
      const { guard, events } = guardWith(await unreachableStore(), {
        storeUnavailable: 'allow',
      });
      const token = mint.sign(keys.ES256);
      expect((await guard.verify(token)).subject).toBe('user-1');
      expect((await guard.verify(token)).subject).toBe('user-1');
      expect(events.ofType('store.unavailable')).toEqual([
        {
          type: 'store.unavailable',
          allowed: true,
          reason: 'RedisStoreError ERR_REDIS_NOT_SYNCED',
        },
        {
          type: 'store.unavailable',
          allowed: true,
          reason: 'RedisStoreError ERR_REDIS_NOT_SYNCED',
        },
      ]);
    });

    it('refuses a one-time token with 503 even when configured to allow', async () => {
      const { guard } = guardWith(await unreachableStore(), { storeUnavailable: 'allow' });
      const token = mint.sign(keys.ES256);
      const error = await refusalOf(guard.consumeOnce(await guard.verify(token), 'POST /payments'));
      expect(error.code).toBe('ERR_STORE_UNAVAILABLE');
      expect(error.status).toBe(503);
    });
  });
});
