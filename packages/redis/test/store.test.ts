import { ConfigurationError, type Claims } from '@jwt-guard/core';
import {
  createRedisStore,
  RedisStoreError,
  type RedisStoreEvent,
  type RedisStoreOptions,
  type RedisTokenStore,
} from '@jwt-guard/redis';
import { createEventRecorder, findRedis, uniqueKeyPrefix, waitUntil } from '@jwt-guard/testkit';
import { Redis, type RedisOptions } from 'ioredis';

const REDIS_URL = findRedis();
const describeRedis = REDIS_URL === undefined ? describe.skip : describe;

const ISSUER = 'https://idp.example/';
const OTHER_ISSUER = 'https://other.idp.example/';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

function errorOf(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

interface Instance {
  readonly client: Redis;
  readonly store: RedisTokenStore;
  readonly events: ReturnType<typeof createEventRecorder<RedisStoreEvent>>;
}

describeRedis('createRedisStore', () => {
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];

  function connect(options: RedisOptions = {}): Redis {
    const client = new Redis(REDIS_URL as string, options);
    clients.push(client);
    return client;
  }

  function open(
    keyPrefix: string,
    options: Partial<RedisStoreOptions> = {},
    client: Redis = connect(),
  ): Instance {
    const events = createEventRecorder<RedisStoreEvent>();
    // Short subject lifetimes: every key of these tests expires within a minute.
    const store = createRedisStore({
      client,
      keyPrefix,
      subjectRevocationTtlSeconds: 60,
      onEvent: events.listener,
      ...options,
    });
    stores.push(store);
    return { client, store, events };
  }

  /** Instances of one fleet (one key prefix), synchronised: two, or `count`. */
  async function fleet(options: Partial<RedisStoreOptions> = {}, count = 2) {
    const keyPrefix = uniqueKeyPrefix('store');
    const all = Array.from({ length: Math.max(count, 2) }, () => open(keyPrefix, options));
    await Promise.all(all.map(({ store }) => store.ready()));
    return { keyPrefix, a: all[0] as Instance, b: all[1] as Instance, all };
  }

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    for (const client of clients) client.disconnect();
  });

  it('throws ERR_REDIS_NOT_SYNCED from isRevoked until the first sync, then answers synchronously', async () => {
    const { store, events } = open(uniqueKeyPrefix('store'));
    const error = errorOf(() => store.isRevoked({ iss: ISSUER, jti: 'any' }));
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error).toMatchObject({ name: 'RedisStoreError', code: 'ERR_REDIS_NOT_SYNCED' });
    expect(store.healthy).toBe(false);

    await store.ready();
    expect(store.healthy).toBe(true);
    expect(store.isRevoked({ iss: ISSUER, jti: 'any' })).toBe(false);
    expect(events.ofType('redis.synced')).toEqual([
      { type: 'redis.synced', entries: 0, durationMs: expect.any(Number) },
    ]);
  });

  it('revokes a token here at once and on every other instance through the channel', async () => {
    const { keyPrefix, a, b } = await fleet();

    // Characters that would make a Cluster hash tag or a key separator.
    const jti = 'jti-{tag}:1';
    await a.store.revokeToken({ jti, expiresAt: nowSeconds() + 30 });

    expect(a.store.isRevoked({ iss: ISSUER, jti })).toBe(true);
    await waitUntil('the revocation to reach b', () => b.store.isRevoked({ iss: ISSUER, jti }));
    expect(b.store.isRevoked({ iss: ISSUER, jti: 'jti-{tag}:2' })).toBe(false);
    const keys = await a.client.keys(`${keyPrefix}*`);
    expect(keys).toEqual([`${keyPrefix}revoked:t:jti-%7Btag%7D%3A1`]);
  });

  it('stores a revocation with the remaining lifetime plus clockToleranceSeconds as TTL', async () => {
    const { keyPrefix, a } = await fleet({ clockToleranceSeconds: 60 });

    await a.store.revokeToken({ jti: 'ttl', expiresAt: new Date(Date.now() + 10_000) });
    const ttl = await a.client.pttl(`${keyPrefix}revoked:t:ttl`);
    // The guard still accepts a token clockToleranceSeconds past `exp`: so must the revocation last.
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(70_000);
  });

  it('revokes every token of a subject issued before a time, at one issuer or at all', async () => {
    const { a, b } = await fleet();
    const iat = nowSeconds() - 10;
    const claims = (sub: string, extra: Partial<Claims> = {}) => ({
      sub,
      iss: ISSUER,
      iat,
      ...extra,
    });
    await a.store.revokeSubject({ sub: 'alice', issuedBefore: iat + 5 });
    await a.store.revokeSubject({ sub: 'carol', issuedBefore: iat + 5, iss: OTHER_ISSUER });
    await waitUntil('both revocations to reach b', () =>
      b.store.isRevoked(claims('carol', { iss: OTHER_ISSUER })),
    );

    for (const { store } of [a, b]) {
      expect(store.isRevoked(claims('alice'))).toBe(true);
      expect(store.isRevoked(claims('alice', { iss: OTHER_ISSUER }))).toBe(true);
      expect(store.isRevoked(claims('alice', { iat: iat + 5 }))).toBe(false);
      // A token without `iat` cannot show it was issued after the revocation.
      expect(store.isRevoked(claims('alice', { iat: undefined }))).toBe(true);
      expect(store.isRevoked(claims('bob'))).toBe(false);
      expect(store.isRevoked(claims('carol'))).toBe(false);
      expect(store.isRevoked(claims('carol', { iss: OTHER_ISSUER }))).toBe(true);
    }
  });

  it('keeps a subject revocation subjectRevocationTtlSeconds plus clockToleranceSeconds', async () => {
    const { keyPrefix, a } = await fleet({ clockToleranceSeconds: 30 });

    await a.store.revokeSubject({ sub: 'frank', issuedBefore: new Date() });
    const ttl = await a.client.pttl(`${keyPrefix}revoked:s::frank`);
    // A token issued just before `issuedBefore` lives at most the subject TTL (60 s here), and
    // the guard accepts it 30 s past its exp.
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(90_000);
    expect(a.store.clockToleranceSeconds).toBe(30);
  });

  it('revokes a jti at one issuer or at every issuer, here, elsewhere and after a resync', async () => {
    const { keyPrefix, a, b } = await fleet();
    const exp = nowSeconds() + 30;

    await a.store.revokeToken({ jti: 'shared', iss: ISSUER, expiresAt: exp });
    await a.store.revokeToken({ jti: 'everywhere', expiresAt: exp });
    await waitUntil(
      'both revocations to reach b',
      () =>
        b.store.isRevoked({ iss: ISSUER, jti: 'shared' }) === true &&
        b.store.isRevoked({ iss: OTHER_ISSUER, jti: 'everywhere' }) === true,
    );
    const fresh = open(keyPrefix);
    await fresh.store.ready();

    for (const { store } of [a, b, fresh]) {
      expect(store.isRevoked({ iss: ISSUER, jti: 'shared' })).toBe(true);
      // Another issuer's token with the same jti is another token.
      expect(store.isRevoked({ iss: OTHER_ISSUER, jti: 'shared' })).toBe(false);
      expect(store.isRevoked({ iss: ISSUER, jti: 'everywhere' })).toBe(true);
      expect(store.isRevoked({ iss: OTHER_ISSUER, jti: 'everywhere' })).toBe(true);
    }
    expect((await a.client.keys(`${keyPrefix}*`)).sort()).toEqual([
      `${keyPrefix}revoked:t:everywhere`,
      `${keyPrefix}revoked:t:https%3A%2F%2Fidp.example%2F:shared`,
    ]);
  });

  it('gives every string a key of its own, lone UTF-16 surrogates included', async () => {
    const { keyPrefix, a, b } = await fleet();
    const exp = nowSeconds() + 30;
    const iat = nowSeconds() - 10;
    // `"j\ud800"` is valid JSON, so a possible claim, and no UTF-8: encodeURIComponent throws.
    const jti = 'j\ud800';
    const sub = 'u\udc00{tag}';
    const iss = 'https://idp.example/\udbff';

    await a.store.revokeToken({ jti, expiresAt: exp });
    // The text the encoding writes for the surrogate, as an identifier of its own.
    await a.store.revokeToken({ jti: 'j%uD800', expiresAt: exp });
    await a.store.revokeToken({ jti: 'k\ud800', iss, expiresAt: exp });
    await a.store.revokeSubject({ sub, issuedBefore: iat + 5 });
    await waitUntil('every revocation to reach b', () => b.store.localSize === 4);
    const fresh = open(keyPrefix);
    await fresh.store.ready();

    for (const { store } of [a, b, fresh]) {
      expect(store.localSize).toBe(4);
      expect(store.isRevoked({ iss: ISSUER, jti })).toBe(true);
      expect(store.isRevoked({ iss: ISSUER, jti: 'j%uD800' })).toBe(true);
      expect(store.isRevoked({ iss, jti: 'k\ud800' })).toBe(true);
      expect(store.isRevoked({ iss: ISSUER, sub, iat })).toBe(true);
      for (const other of ['j', 'j\ud801', 'j\ud800\udc00', 'j%25uD800', 'j\ufffd']) {
        expect(store.isRevoked({ iss: ISSUER, jti: other })).toBe(false);
      }
      expect(store.isRevoked({ iss: ISSUER, jti: 'k\ud800' })).toBe(false);
      expect(store.isRevoked({ iss: ISSUER, sub: 'u\udc01{tag}', iat })).toBe(false);
    }
    expect(await a.store.consumeOnce('once\ud800', exp)).toBe(true);
    expect(await b.store.consumeOnce('once\ud800', exp)).toBe(false);
    expect(await b.store.consumeOnce('once\ud801', exp)).toBe(true);

    const keys = await a.client.keys(`${keyPrefix}*`);
    expect(keys).toHaveLength(6);
    // No braces: no hash tag, so each key hashes on its own on a Cluster.
    for (const key of keys) expect(key.slice(keyPrefix.length)).not.toMatch(/[{}]/);
  });

  it('takes a message only as a hint: no key, no revocation; the lifetime comes from Redis', async () => {
    const { keyPrefix, a, b } = await fleet({ clockToleranceSeconds: 0 });
    const channel = `${keyPrefix}revocations`;
    const t = nowSeconds();
    const forge = (message: object) => a.client.publish(channel, JSON.stringify(message));

    // Anyone allowed to PUBLISH could send these; no key in Redis backs them.
    await forge({ kind: 'subject', sub: 'victim', expiryMs: 1e300, issuedBeforeMs: 1e300 });
    await forge({ kind: 'token', jti: 'forged', expiryMs: 1e300 });
    await forge({ kind: 'token', jti: 'forged', iss: ISSUER });
    // Real revocations, announced again with a forged lifetime and a forged issuedBefore.
    await a.store.revokeToken({ jti: 'short', expiresAt: new Date(Date.now() + 1000) });
    await a.store.revokeSubject({ sub: 'erin', issuedBefore: t });
    await forge({ kind: 'token', jti: 'short', expiryMs: 1e300 });
    await forge({ kind: 'subject', sub: 'erin', expiryMs: 1e300, issuedBeforeMs: 1e300 });
    await a.store.revokeToken({ jti: 'last', expiresAt: t + 30 });
    // Messages on one channel arrive in order, and so do the reads they cause.
    await waitUntil('the last revocation to reach b', () =>
      b.store.isRevoked({ iss: ISSUER, jti: 'last' }),
    );

    for (const { store } of [a, b]) {
      expect(store.healthy).toBe(true);
      expect(store.isRevoked({ iss: ISSUER, sub: 'victim', iat: t })).toBe(false);
      expect(store.isRevoked({ iss: ISSUER, jti: 'forged' })).toBe(false);
      expect(store.isRevoked({ iss: ISSUER, sub: 'erin', iat: t - 1 })).toBe(true);
      expect(store.isRevoked({ iss: ISSUER, sub: 'erin', iat: t + 10 })).toBe(false);
      expect(store.isRevoked({ iss: ISSUER, jti: 'short' })).toBe(true);
      expect(store.localSize).toBe(3);
    }
    // Redis forgets 'short' after a second: so does every instance, whatever the message said.
    const key = `${keyPrefix}revoked:t:short`;
    await waitUntil('Redis to expire the key', async () => (await a.client.exists(key)) === 0);
    await waitUntil(
      'b to forget it too',
      () => b.store.isRevoked({ iss: ISSUER, jti: 'short' }) === false,
    );
    const fresh = open(keyPrefix);
    await fresh.store.ready();
    expect(fresh.store.isRevoked({ iss: ISSUER, sub: 'victim', iat: t })).toBe(false);
    expect(fresh.store.localSize).toBe(2);
  });

  it('resynchronises when it cannot read the key a message names', async () => {
    const { a, b } = await fleet();
    const pipeline = b.client.pipeline.bind(b.client);
    let failures = 1;
    // The next read b makes (the one the message asks for) fails; later ones work.
    Object.assign(b.client, {
      pipeline: () => {
        if (failures-- > 0) throw new Error('read failed');
        return pipeline();
      },
    });
    const lost = b.events.next('redis.sync_lost');
    const synced = b.events.next('redis.synced');

    await a.store.revokeToken({ jti: 'unread', expiresAt: nowSeconds() + 30 });
    expect(await lost).toEqual({ type: 'redis.sync_lost', reason: 'message unreadable' });
    await synced;
    expect(b.store.isRevoked({ iss: ISSUER, jti: 'unread' })).toBe(true);
  });

  it('reads every revocation at startup, across many SCAN pages', async () => {
    const keyPrefix = uniqueKeyPrefix('store');
    const writer = open(keyPrefix);
    await writer.store.ready();
    const exp = nowSeconds() + 30;
    const jtis = Array.from({ length: 2500 }, (_, i) => `jti-${i}`);
    await Promise.all(jtis.map((jti) => writer.store.revokeToken({ jti, expiresAt: exp })));
    await writer.store.revokeSubject({ sub: 'dave', issuedBefore: new Date(), iss: ISSUER });

    const reader = open(keyPrefix);
    await reader.store.ready();
    expect(reader.events.ofType('redis.synced')).toEqual([
      expect.objectContaining({ entries: 2501 }),
    ]);
    expect(reader.store.localSize).toBe(2501);
    expect(jtis.every((jti) => reader.store.isRevoked({ iss: ISSUER, jti }) === true)).toBe(true);
    expect(reader.store.isRevoked({ iss: ISSUER, sub: 'dave', iat: exp - 3600 })).toBe(true);
  });

  it('keeps the stronger of two revocations of one subject', async () => {
    const { keyPrefix, a } = await fleet();

    const t = nowSeconds();
    await a.store.revokeSubject({ sub: 'erin', issuedBefore: t + 20 });
    await a.store.revokeSubject({ sub: 'erin', issuedBefore: t });

    const fresh = open(keyPrefix);
    await fresh.store.ready();
    expect(fresh.store.isRevoked({ iss: ISSUER, sub: 'erin', iat: t + 10 })).toBe(true);
    expect(fresh.store.isRevoked({ iss: ISSUER, sub: 'erin', iat: t + 20 })).toBe(false);
  });

  it('finds, after a reconnection, a revocation whose message it never received', async () => {
    const keyPrefix = uniqueKeyPrefix('store');
    const name = keyPrefix.replace(/[^a-z0-9-]/gi, '_');
    // The store's subscriber connection is a duplicate: it carries the same name.
    const b = open(keyPrefix, {}, connect({ connectionName: name }));
    await b.store.ready();
    // Same keys, another channel: b is never told, as if it had been away.
    const elsewhere = open(keyPrefix, { channel: `${keyPrefix}elsewhere` });
    await elsewhere.store.ready();
    await elsewhere.store.revokeToken({ jti: 'missed', expiresAt: nowSeconds() + 30 });
    expect(b.store.isRevoked({ iss: ISSUER, jti: 'missed' })).toBe(false);

    const lost = b.events.next('redis.sync_lost');
    const synced = b.events.next('redis.synced');
    const list = (await b.client.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
    const ids = list
      .split('\n')
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /^id=(\d+)/.exec(line)?.[1]);
    expect(ids).toHaveLength(1);
    await b.client.call('CLIENT', 'KILL', 'ID', ids[0] as string);

    expect(await lost).toEqual({ type: 'redis.sync_lost', reason: 'connection lost' });
    expect(errorOf(() => b.store.isRevoked({ iss: ISSUER, jti: 'missed' }))).toMatchObject({
      code: 'ERR_REDIS_NOT_SYNCED',
    });
    await synced;
    expect(b.store.isRevoked({ iss: ISSUER, jti: 'missed' })).toBe(true);
  });

  it('forgets a revocation when the token expires: in Redis by TTL, in every local set', async () => {
    const { keyPrefix, a, b } = await fleet({ clockToleranceSeconds: 0 });

    await a.store.revokeToken({ jti: 'short', expiresAt: new Date(Date.now() + 1000) });
    await waitUntil('the revocation to reach b', () =>
      b.store.isRevoked({ iss: ISSUER, jti: 'short' }),
    );

    const key = `${keyPrefix}revoked:t:short`;
    await waitUntil('Redis to expire the key', async () => (await a.client.exists(key)) === 0);
    // A local entry expires at the time its PTTL was read plus the PTTL, so it may outlive the
    // key by the read's round trip: later, never sooner (the safe side), and only just.
    await waitUntil(
      'every local set to forget the revocation',
      () =>
        a.store.isRevoked({ iss: ISSUER, jti: 'short' }) === false &&
        b.store.isRevoked({ iss: ISSUER, jti: 'short' }) === false,
      1000,
    );
    const fresh = open(keyPrefix);
    await fresh.store.ready();
    expect(fresh.store.localSize).toBe(0);
  });

  it('ignores a revocation of a token that has already expired', async () => {
    const { keyPrefix, a } = await fleet({ clockToleranceSeconds: 0 });

    await a.store.revokeToken({ jti: 'old', expiresAt: nowSeconds() - 1 });
    expect(a.store.isRevoked({ iss: ISSUER, jti: 'old' })).toBe(false);
    expect(await a.client.keys(`${keyPrefix}*`)).toEqual([]);
  });

  it('ignores anything on the channel that is not a revocation', async () => {
    const { keyPrefix, a, b } = await fleet();

    const channel = `${keyPrefix}revocations`;
    for (const message of [
      '',
      'not json',
      '{"kind":"token"}',
      '{"kind":"token","jti":1,"expiryMs":1}',
      '[]',
    ])
      await a.client.publish(channel, message);
    await a.store.revokeToken({ jti: 'real', expiresAt: nowSeconds() + 30 });
    // Messages on one channel arrive in order: the junk came before.
    await waitUntil('the real revocation to reach b', () =>
      b.store.isRevoked({ iss: ISSUER, jti: 'real' }),
    );
    expect(b.store.healthy).toBe(true);
    expect(b.store.localSize).toBe(1);
  });

  it('works with a client that has a keyPrefix of its own', async () => {
    const keyPrefix = uniqueKeyPrefix('store');
    const a = open(keyPrefix, {}, connect({ keyPrefix: 'app:' }));
    await a.store.ready();
    await a.store.revokeToken({ jti: 'prefixed', expiresAt: nowSeconds() + 30 });
    expect(await connect().exists(`app:${keyPrefix}revoked:t:prefixed`)).toBe(1);

    const b = open(keyPrefix, {}, connect({ keyPrefix: 'app:' }));
    await b.store.ready();
    expect(b.events.ofType('redis.synced')).toEqual([expect.objectContaining({ entries: 1 })]);
    expect(b.store.isRevoked({ iss: ISSUER, jti: 'prefixed' })).toBe(true);
  });

  describe('consumeOnce', () => {
    it('answers true for the first use of a key in the whole fleet, false after', async () => {
      const { keyPrefix, a, b } = await fleet();

      const exp = nowSeconds() + 30;
      expect(await a.store.consumeOnce('k1', exp)).toBe(true);
      expect(await a.store.consumeOnce('k1', exp)).toBe(false);
      expect(await b.store.consumeOnce('k1', exp)).toBe(false);
      expect(await b.store.consumeOnce('k2', exp)).toBe(true);
      const ttl = await a.client.pttl(`${keyPrefix}once:k1`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(35_000);
    });

    it('refuses an expired key without recording it', async () => {
      const { keyPrefix, a } = await fleet({ clockToleranceSeconds: 0 });

      expect(await a.store.consumeOnce('late', nowSeconds() - 1)).toBe(false);
      expect(await a.client.keys(`${keyPrefix}*`)).toEqual([]);
      expect(await a.store.consumeOnce('late', nowSeconds() + 30)).toBe(true);
    });

    it('lets a key be used again once Redis has expired it', async () => {
      const { keyPrefix, a } = await fleet({ clockToleranceSeconds: 0 });

      expect(await a.store.consumeOnce('brief', new Date(Date.now() + 1000))).toBe(true);
      const key = `${keyPrefix}once:brief`;
      await waitUntil('Redis to expire the key', async () => (await a.client.exists(key)) === 0);
      expect(await a.store.consumeOnce('brief', new Date(Date.now() + 1000))).toBe(true);
    });

    it('lets exactly one of 100 concurrent uses of one key win, across four connections', async () => {
      const { all } = await fleet({}, 4);
      const exp = nowSeconds() + 30;
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          (all[i % 4] as Instance).store.consumeOnce('race', exp),
        ),
      );
      expect(results.filter((won) => won === true)).toHaveLength(1);
      expect(results.filter((won) => won === false)).toHaveLength(99);
    });
  });

  describe('arguments', () => {
    it('rejects what is not a revocation or a key', async () => {
      const { a } = await fleet();
      const exp = nowSeconds() + 30;
      const store = a.store as unknown as Record<string, (arg: unknown, arg2?: unknown) => unknown>;
      await expect(store.revokeToken!({ jti: '', expiresAt: exp })).rejects.toThrow(TypeError);
      await expect(store.revokeToken!({ jti: 'x', expiresAt: '2030' })).rejects.toThrow(TypeError);
      await expect(store.revokeSubject!({ sub: 'x', issuedBefore: NaN })).rejects.toThrow(
        TypeError,
      );
      await expect(store.revokeSubject!({ sub: 'x', issuedBefore: 1, iss: '' })).rejects.toThrow(
        TypeError,
      );
      await expect(store.consumeOnce!('', exp)).rejects.toThrow(TypeError);
      await expect(store.revokeToken!({ jti: 'x', expiresAt: exp, iss: '' })).rejects.toThrow(
        TypeError,
      );
      // Core's check: milliseconds where seconds belong would hold an entry for millennia.
      await expect(store.revokeToken!({ jti: 'x', expiresAt: Date.now() })).rejects.toThrow(
        'not milliseconds',
      );
      await expect(store.consumeOnce!('x', Date.now())).rejects.toThrow(TypeError);
      expect(a.store.localSize).toBe(0);
    });

    it('rejects with a RedisStoreError whatever the client throws, keeping it in cause', async () => {
      const { client, store } = open(uniqueKeyPrefix('store'));
      await store.ready();
      const thrown = new URIError('URI malformed');
      const broken = (): never => {
        throw thrown;
      };
      Object.assign(client, { eval: broken, set: broken });
      const exp = nowSeconds() + 30;
      for (const call of [
        store.revokeToken({ jti: 'x', expiresAt: exp }),
        store.revokeSubject({ sub: 'x', issuedBefore: exp }),
        store.consumeOnce('x', exp),
      ]) {
        await expect(call).rejects.toMatchObject({
          name: 'RedisStoreError',
          code: 'ERR_REDIS_COMMAND',
          message: 'A Redis command failed',
          cause: thrown,
        });
      }
    });

    it('refuses options that are not usable, with a ConfigurationError', () => {
      const client = connect({ lazyConnect: true });
      expect(() => createRedisStore({ client: {} as Redis })).toThrow(ConfigurationError);
      expect(() => createRedisStore({ client, maxEntries: 0 })).toThrow(
        'createRedisStore: "maxEntries" must be a number >= 1',
      );
      expect(() => createRedisStore({ client, maxEntries: 1.5 })).toThrow(ConfigurationError);
      expect(() => createRedisStore({ client, commandTimeoutMs: -1 })).toThrow(ConfigurationError);
      expect(() => createRedisStore({ client, channel: '' })).toThrow(ConfigurationError);
    });
  });

  describe('close', () => {
    it('ends its own subscriber connection and leaves the application’s client open', async () => {
      const { keyPrefix, a } = await fleet();
      const channel = `${keyPrefix}revocations`;
      const subscribers = async () =>
        ((await a.client.call('PUBSUB', 'NUMSUB', channel)) as [string, number])[1];
      expect(await subscribers()).toBe(2);

      await a.store.close();
      expect(errorOf(() => a.store.isRevoked({ iss: ISSUER, jti: 'any' }))).toMatchObject({
        code: 'ERR_REDIS_CLOSED',
      });
      await waitUntil('the subscription to end', async () => (await subscribers()) === 1);
      expect(await a.client.ping()).toBe('PONG');
    });

    it('rejects ready() when closed before the first sync', async () => {
      const { store } = open(uniqueKeyPrefix('store'));
      const ready = store.ready();
      await store.close();
      await expect(ready).rejects.toMatchObject({ code: 'ERR_REDIS_CLOSED' });
    });
  });
});
