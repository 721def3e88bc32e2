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

function errorOf(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

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

  it('holds 1e5 revocations in 1e5 entries, and refuses to forget one more', async () => {
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
      expect(jtis.every((jti) => store.isRevoked({ iss: ISSUER, jti }))).toBe(true);
    }

    // One more live revocation than the bound: no entry is evicted (that would bring a
    // revoked token back); the set is incomplete, so it stops answering.
    const full = [writer, reader].map(({ events }) => events.next('redis.sync_lost'));
    const claims = mint.claims();
    const jti = claims.jti as string;
    const token = signJwt(keys.ES256, claims);
    await writer.store.revokeToken({ jti, expiresAt });
    for (const event of await Promise.all(full)) {
      expect(event).toEqual({ type: 'redis.sync_lost', reason: 'local set full' });
    }
    for (const { store } of [writer, reader]) {
      expect(store.localSize).toBe(REVOCATIONS);
      expect(errorOf(() => store.isRevoked({ iss: ISSUER, jti }))).toMatchObject({
        code: 'ERR_REDIS_FULL',
      });
    }
    const guard = createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: keys.ES256.jwk,
      store: reader.store,
    });
    const refusal = await refusalOf(guard.verify(token));
    expect(refusal.code).toBe('ERR_STORE_UNAVAILABLE');
    expect(refusal.status).toBe(503);
  }, 120_000);

  it('answers again once expiries make room, with the revocation it could not take', async () => {
    const keyPrefix = fleetPrefix();
    const { store, events } = open(keyPrefix, { maxEntries: 2, clockToleranceSeconds: 0 });
    await store.ready();
    const soon = new Date(Date.now() + 1000);
    await store.revokeToken({ jti: 'a', expiresAt: soon });
    await store.revokeToken({ jti: 'b', expiresAt: soon });
    const lost = events.next('redis.sync_lost');
    const synced = events.next('redis.synced');
    await store.revokeToken({ jti: 'c', expiresAt: Math.floor(Date.now() / 1000) + 30 });
    expect(await lost).toEqual({ type: 'redis.sync_lost', reason: 'local set full' });
    expect(errorOf(() => store.isRevoked({ iss: ISSUER, jti: 'c' }))).toMatchObject({
      code: 'ERR_REDIS_FULL',
    });

    // Retried when the soonest entry expires: then the resync fits.
    await synced;
    expect(store.isRevoked({ iss: ISSUER, jti: 'c' })).toBe(true);
    expect(store.isRevoked({ iss: ISSUER, jti: 'a' })).toBe(false);
    expect(store.localSize).toBe(1);
  });
});
