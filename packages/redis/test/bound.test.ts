import { createGuard } from '@jwt-guard/core';
import {
  createRedisStore,
  type RedisStoreEvent,
  type RedisStoreOptions,
  type RedisTokenStore,
} from '@jwt-guard/redis';
import {
  createEventRecorder,
  createTokenFactory,
  findRedis,
  refusalOf,
  signJwt,
  testKeys,
  uniqueKeyPrefix,
  waitUntil,
} from '@jwt-guard/testkit';
import { Redis } from 'ioredis';

const REDIS_URL = findRedis();
const describeRedis = REDIS_URL === undefined ? describe.skip : describe;

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const REVOCATIONS = 100_000;

const keys = testKeys();
const mint = createTokenFactory({
  issuer: ISSUER,
  audience: AUDIENCE,
  clock: { nowMs: () => Date.now() },
});

describeRedis('the bound of the local revocation set', () => {
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];
  const prefixes: string[] = [];

  function open(keyPrefix: string, options: Partial<RedisStoreOptions> = {}) {
    const client = new Redis(REDIS_URL as string);
    clients.push(client);
    const events = createEventRecorder<RedisStoreEvent>();
    const store = createRedisStore({
      client,
      keyPrefix,
      // These suites measure memory, not latency: a loaded machine must not time them out.
      commandTimeoutMs: 30_000,
      onEvent: events.listener,
      ...options,
    });
    stores.push(store);
    return { store, events };
  }

  function fleetPrefix(): string {
    const prefix = uniqueKeyPrefix('bound');
    prefixes.push(prefix);
    return prefix;
  }

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    // 1e5 keys would slow every other suite's SCAN until they expire: remove them now.
    const cleaner = new Redis(REDIS_URL as string);
    clients.push(cleaner);
    for (const prefix of prefixes) {
      for await (const found of cleaner.scanStream({ match: `${prefix}*`, count: 1000 })) {
        if ((found as string[]).length > 0) await cleaner.unlink(...(found as string[]));
      }
    }
    for (const client of clients) client.disconnect();
  });

  it('holds 1e5 revocations in 1e5 entries, and asks Redis rather than forget one more', async () => {
    const keyPrefix = fleetPrefix();
    const writer = open(keyPrefix, { maxEntries: REVOCATIONS });
    const reader = open(keyPrefix, { maxEntries: REVOCATIONS });
    await Promise.all([writer.store.ready(), reader.store.ready()]);

    const expiresAt = Math.floor(Date.now() / 1000) + 120;
    const jtis = Array.from({ length: REVOCATIONS }, (_, i) => `jti-${i}`);
    for (let start = 0; start < REVOCATIONS; start += 1000) {
      await Promise.all(
        jtis.slice(start, start + 1000).map((jti) => writer.store.revokeToken({ jti, expiresAt })),
      );
    }
    const last = jtis.at(-1) as string;
    await waitUntil(
      'the last revocation to reach the reader',
      () => reader.store.isRevoked({ iss: ISSUER, jti: last }),
      60_000,
    );
    const fresh = open(keyPrefix, { maxEntries: REVOCATIONS });
    await fresh.store.ready();
    expect(fresh.events.ofType('redis.synced')).toEqual([
      expect.objectContaining({ entries: REVOCATIONS }),
    ]);
    for (const { store } of [writer, reader, fresh]) {
      expect(store.localSize).toBe(REVOCATIONS);
      expect(jtis.every((jti) => store.isRevoked({ iss: ISSUER, jti }) === true)).toBe(true);
    }

    // One more live revocation than the bound: no entry is evicted (that would bring a
    // revoked token back); the set is incomplete, so Redis answers for what it lacks.
    const degraded = [writer, reader].map(({ events }) => events.next('redis.degraded'));
    const claims = mint.claims();
    const jti = claims.jti as string;
    const token = signJwt(keys.ES256, claims);
    await writer.store.revokeToken({ jti, expiresAt });
    for (const event of await Promise.all(degraded)) {
      expect(event).toEqual({
        type: 'redis.degraded',
        reason: 'local set full',
        maxEntries: REVOCATIONS,
      });
    }
    for (const { store } of [writer, reader]) {
      expect(store.localSize).toBe(REVOCATIONS);
      expect(store.healthy).toBe(true);
      expect(await store.isRevoked({ iss: ISSUER, jti })).toBe(true);
    }
    const guard = createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: keys.ES256.jwk,
      store: reader.store,
    });
    const refusal = await refusalOf(guard.verify(token));
    expect(refusal.code).toBe('ERR_TOKEN_REVOKED');
    expect((await guard.verify(signJwt(keys.ES256, mint.claims()))).subject).toBe('user-1');
  }, 120_000);

  it('answers from Redis while the set is full, and from memory again once there is room', async () => {
    const keyPrefix = fleetPrefix();
    const a = open(keyPrefix, { maxEntries: 2, clockToleranceSeconds: 0 });
    const b = open(keyPrefix, { maxEntries: 2, clockToleranceSeconds: 0 });
    await Promise.all([a.store.ready(), b.store.ready()]);
    const soon = new Date(Date.now() + 1500);
    await a.store.revokeToken({ jti: 'a', expiresAt: soon });
    await a.store.revokeToken({ jti: 'b', expiresAt: soon });
    await waitUntil('both revocations to reach b', () => b.store.localSize === 2);

    const degraded = [a, b].map(({ events }) => events.next('redis.degraded'));
    const revoked = mint.claims();
    const victim = mint.claims({ sub: 'victim' });
    // Writes still succeed: Redis holds them, and every instance learns of them.
    await a.store.revokeToken({ jti: revoked.jti as string, expiresAt: revoked.exp as number });
    await a.store.revokeSubject({ sub: 'victim', issuedBefore: (victim.iat as number) + 1 });
    await Promise.all(degraded);

    // A fresh instance becomes ready, though everything does not fit.
    const c = open(keyPrefix, { maxEntries: 2, clockToleranceSeconds: 0 });
    await c.store.ready();
    expect(c.events.ofType('redis.degraded')).toHaveLength(1);

    for (const { store, events } of [a, b, c]) {
      expect(store.healthy).toBe(true);
      expect(store.degraded).toBe(true);
      const guard = createGuard({
        issuer: ISSUER,
        audience: AUDIENCE,
        keys: keys.ES256.jwk,
        store,
        clockToleranceSeconds: 0,
      });
      expect((await refusalOf(guard.verify(signJwt(keys.ES256, revoked)))).code).toBe(
        'ERR_TOKEN_REVOKED',
      );
      expect((await refusalOf(guard.verify(signJwt(keys.ES256, victim)))).code).toBe(
        'ERR_TOKEN_REVOKED',
      );
      expect((await guard.verify(signJwt(keys.ES256, mint.claims()))).subject).toBe('user-1');
      expect(events.ofType('redis.sync_lost')).toEqual([]);
    }

    // Once 'a' and 'b' expire, the two live revocations fit: answered from memory again,
    // synchronously.
    for (const { store, events } of [a, b, c]) {
      if (store.degraded) await events.next('redis.restored');
      expect(store.degraded).toBe(false);
      expect(store.isRevoked({ iss: ISSUER, jti: revoked.jti as string })).toBe(true);
      expect(store.isRevoked({ iss: ISSUER, sub: 'victim', iat: victim.iat as number })).toBe(true);
      expect(store.isRevoked({ iss: ISSUER, jti: 'a' })).toBe(false);
      expect(store.localSize).toBe(2);
    }
  });
});
