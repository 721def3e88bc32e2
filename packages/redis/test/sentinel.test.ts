import { createRedisStore, type RedisTokenStore } from '@jwt-guard/redis';
import {
  hasRedisServer,
  startRedisSentinel,
  uniqueKeyPrefix,
  waitUntil,
  type RedisSentinelProcess,
} from '@jwt-guard/testkit';
import { Redis } from 'ioredis';

// A master and a Sentinel of this suite's own; skipped (with a notice) exactly where the
// Cluster suite is: no redis-server binary, and REQUIRE_REDIS unset.
const describeServer = hasRedisServer() ? describe : describe.skip;

const ISSUER = 'https://idp.example/';
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describeServer('through Redis Sentinel', () => {
  let sentinel: RedisSentinelProcess | undefined;
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];
  const keyPrefix = uniqueKeyPrefix('sentinel');

  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  }, 30_000);

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    for (const client of clients) client.disconnect();
    await sentinel?.stop();
  });

  function open() {
    const { sentinels, name } = sentinel as RedisSentinelProcess;
    // The client asks the Sentinel for the master; the store's subscriber, a duplicate, too.
    const client = new Redis({ sentinels: [...sentinels], name, enableOfflineQueue: false });
    clients.push(client);
    const store = createRedisStore({ client, keyPrefix, subjectRevocationTtlSeconds: 60 });
    stores.push(store);
    return { client, store };
  }

  it('revokes across instances, resynchronises, and consumes once', async () => {
    const a = open();
    const b = open();
    await Promise.all([a.store.ready(), b.store.ready()]);
    // Both reached the master the Sentinel names, not the Sentinel itself.
    const master = (sentinel as RedisSentinelProcess).master.port;
    for (const { client } of [a, b]) {
      const info = await client.info('server');
      expect(info).toContain(`tcp_port:${master}\r\n`);
      expect(info).toContain('redis_mode:standalone');
    }

    const exp = nowSeconds() + 30;
    await a.store.revokeToken({ jti: 'token-1', expiresAt: exp });
    await a.store.revokeToken({ jti: 'token-2', iss: ISSUER, expiresAt: exp });
    await a.store.revokeSubject({ sub: 'alice', issuedBefore: nowSeconds() + 1 });
    await waitUntil(
      'every revocation to reach b',
      () =>
        b.store.isRevoked({ iss: ISSUER, jti: 'token-1' }) === true &&
        b.store.isRevoked({ iss: ISSUER, jti: 'token-2' }) === true &&
        b.store.isRevoked({ iss: ISSUER, sub: 'alice', iat: nowSeconds() - 10 }) === true,
    );
    expect(b.store.isRevoked({ iss: ISSUER, jti: 'token-3' })).toBe(false);

    const c = open();
    await c.store.ready();
    expect(c.store.localSize).toBe(3);
    expect(c.store.isRevoked({ iss: ISSUER, jti: 'token-2' })).toBe(true);
    // Every store's own subscriber connection found the master through the Sentinel too.
    const subscribers = (await a.client.call('PUBSUB', 'NUMSUB', `${keyPrefix}revocations`)) as [
      string,
      number,
    ];
    expect(subscribers[1]).toBe(3);

    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => [a, b, c][i % 3]!.store.consumeOnce('race', exp)),
    );
    expect(results.filter((won) => won === true)).toHaveLength(1);
    expect(results.filter((won) => won === false)).toHaveLength(99);
  });
});
