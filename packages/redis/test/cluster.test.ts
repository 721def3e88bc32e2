import {
  createRedisStore,
  type RedisStoreEvent,
  type RedisStoreOptions,
  type RedisTokenStore,
} from '@jwt-guard/redis';
import {
  createEventRecorder,
  hasRedisServer,
  startRedisCluster,
  uniqueKeyPrefix,
  waitUntil,
  type RedisClusterProcess,
} from '@jwt-guard/testkit';
import { Cluster } from 'ioredis';

// A three-master Cluster of this suite's own (no replicas): keys spread over three nodes.
const describeServer = hasRedisServer() ? describe : describe.skip;

const ISSUER = 'https://idp.example/';
const OTHER_ISSUER = 'https://other.idp.example/';
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describeServer('on a Redis Cluster', () => {
  let cluster: RedisClusterProcess | undefined;
  const clients: Cluster[] = [];
  const stores: RedisTokenStore[] = [];
  const keyPrefix = uniqueKeyPrefix('cluster');

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    for (const client of clients) client.disconnect();
    await cluster?.stop();
  });

  function open(options: Partial<RedisStoreOptions> = {}) {
    const client = new Cluster([...(cluster as RedisClusterProcess).nodes]);
    clients.push(client);
    const events = createEventRecorder<RedisStoreEvent>();
    const store = createRedisStore({ client, keyPrefix, onEvent: events.listener, ...options });
    stores.push(store);
    return { client, store, events };
  }

  it('revokes across instances, resynchronises from every master, and consumes once', async () => {
    const a = open();
    const b = open();
    await Promise.all([a.store.ready(), b.store.ready()]);

    const exp = nowSeconds() + 60;
    const jtis = Array.from({ length: 60 }, (_, i) => `jti-${i}`);
    await Promise.all(jtis.map((jti) => a.store.revokeToken({ jti, expiresAt: exp })));
    await a.store.revokeSubject({ sub: 'alice', issuedBefore: nowSeconds() + 1 });
    // One issuer's token; a jti that would be a hash tag, with a lone surrogate.
    await a.store.revokeToken({ jti: 'scoped', iss: ISSUER, expiresAt: exp });
    await a.store.revokeToken({ jti: '{x}\ud800', expiresAt: exp });
    await waitUntil('every revocation to reach b', () =>
      [...jtis, '{x}\ud800', 'scoped'].every(
        (jti) => b.store.isRevoked({ iss: ISSUER, jti }) === true,
      ),
    );
    expect(b.store.isRevoked({ iss: ISSUER, sub: 'alice', iat: nowSeconds() - 10 })).toBe(true);
    expect(b.store.isRevoked({ iss: OTHER_ISSUER, jti: 'scoped' })).toBe(false);

    // The keys live on every master: a resync must scan them all.
    const perMaster = await Promise.all(
      a.client.nodes('master').map((node) => node.keys(`${keyPrefix}*`)),
    );
    expect(perMaster).toHaveLength(3);
    for (const keys of perMaster) expect(keys.length).toBeGreaterThan(0);

    const c = open();
    await c.store.ready();
    expect(c.events.ofType('redis.synced')).toEqual([expect.objectContaining({ entries: 63 })]);
    expect(jtis.every((jti) => c.store.isRevoked({ iss: ISSUER, jti }) === true)).toBe(true);
    expect(c.store.isRevoked({ iss: ISSUER, sub: 'alice', iat: nowSeconds() - 10 })).toBe(true);
    expect(c.store.isRevoked({ iss: ISSUER, jti: 'jti-60' })).toBe(false);
    expect(c.store.isRevoked({ iss: ISSUER, jti: 'scoped' })).toBe(true);
    expect(c.store.isRevoked({ iss: OTHER_ISSUER, jti: 'scoped' })).toBe(false);

    // Too small for them all: asks the Cluster, each key on its own node, per request.
    const d = open({ maxEntries: 10 });
    await d.store.ready();
    expect(d.store.degraded).toBe(true);
    for (const jti of [...jtis, '{x}\ud800', 'scoped']) {
      expect(await d.store.isRevoked({ iss: ISSUER, jti })).toBe(true);
    }
    expect(await d.store.isRevoked({ iss: OTHER_ISSUER, jti: 'scoped' })).toBe(false);
    expect(await d.store.isRevoked({ iss: ISSUER, sub: 'alice', iat: nowSeconds() - 10 })).toBe(
      true,
    );
    expect(await d.store.isRevoked({ iss: ISSUER, jti: 'jti-60' })).toBe(false);

    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => [a, b, c, d][i % 4]!.store.consumeOnce('race', exp)),
    );
    expect(results.filter((won) => won === true)).toHaveLength(1);
    expect(await a.store.consumeOnce('other', exp)).toBe(true);
  }, 30_000);
});
