import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { createGuard, type Guard, type GuardEvent } from '@jwt-guard/core';
import {
  createRedisStore,
  type RedisStoreEvent,
  type RedisStoreOptions,
  type RedisTokenStore,
} from '@jwt-guard/redis';
import {
  createEventRecorder,
  createTokenFactory,
  hasRedisServer,
  startRedisServer,
  testKeys,
  uniqueKeyPrefix,
  waitUntil,
  type RedisServerProcess,
} from '@jwt-guard/testkit';
import { Redis } from 'ioredis';

// A Redis of this suite's own, to stop and restart: the shared one must stay up for others.
const describeServer = hasRedisServer() ? describe : describe.skip;

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';

const keys = testKeys();
const mint = createTokenFactory({
  issuer: ISSUER,
  audience: AUDIENCE,
  clock: { nowMs: () => Date.now() },
});

// Every traffic loop still running: stopped after each test, also one whose assertion failed
// halfway, so that Jest can exit.
const runningLoops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(runningLoops.splice(0).map((stop) => stop()));
});

/** Verifies `token` again and again, recording each outcome, until stopped. */
function traffic(guard: Guard, token: string) {
  const outcomes: string[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        await guard.verify(token);
        outcomes.push('ok');
      } catch (error) {
        outcomes.push((error as { code: string }).code);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  const stop = async () => {
    running = false;
    await done;
  };
  runningLoops.push(stop);
  return { outcomes, stop };
}

describeServer('Redis stopped and restarted', () => {
  let redis: RedisServerProcess | undefined;
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    for (const client of clients) client.disconnect();
    await redis?.stop();
  });

  function open(options: Partial<RedisStoreOptions> = {}) {
    // What the store's documentation recommends: fail at once while disconnected; retry
    // the connection quickly so the test does not wait on ioredis's back-off.
    const client = new Redis((redis as RedisServerProcess).url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 50,
    });
    clients.push(client);
    const events = createEventRecorder<RedisStoreEvent>();
    const store = createRedisStore({
      client,
      keyPrefix: uniqueKeyPrefix('outage'),
      onEvent: events.listener,
      ...options,
    });
    stores.push(store);
    return { store, events };
  }

  function guardWith(store: RedisTokenStore, storeUnavailable: 'reject' | 'allow') {
    const events = createEventRecorder<GuardEvent>();
    const guard = createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: keys.ES256.jwk,
      store,
      storeUnavailable,
      onEvent: events.listener,
    });
    return { guard, events };
  }

  it('fails closed (or open when configured) mid-traffic, and recovers when Redis is back', async () => {
    const server = redis as RedisServerProcess;
    const { store, events } = open();
    await store.ready();
    const closed = guardWith(store, 'reject');
    const open_ = guardWith(store, 'allow');
    const token = mint.sign(keys.ES256);
    const known = mint.sign(keys.ES256, { jti: 'revoked-before' });
    await store.revokeToken({
      jti: 'revoked-before',
      expiresAt: Math.floor(Date.now() / 1000) + 60,
    });
    const strict = traffic(closed.guard, token);
    const lenient = traffic(open_.guard, token);
    await waitUntil('traffic to flow', () => strict.outcomes.length > 0);

    const lost = events.next('redis.sync_lost');
    await server.stop();
    await lost;
    await waitUntil('a refusal during the outage', () =>
      strict.outcomes.includes('ERR_STORE_UNAVAILABLE'),
    );
    // Nothing else can be done while Redis is down either.
    await expect(
      store.revokeToken({ jti: 'during', expiresAt: Math.floor(Date.now() / 1000) + 30 }),
    ).rejects.toMatchObject({ name: 'RedisStoreError', code: 'ERR_REDIS_UNAVAILABLE' });
    // What this instance knows is revoked stays refused, also where unknown tokens are allowed:
    // revoked before the outage, or here during it.
    for (const revoked of [known, mint.sign(keys.ES256, { jti: 'during' })]) {
      for (const guard of [closed.guard, open_.guard]) {
        expect(await guard.verify(revoked).catch((e: unknown) => e)).toMatchObject({
          code: 'ERR_TOKEN_REVOKED',
          status: 401,
        });
      }
    }
    const replay = await closed.guard.verify(mint.sign(keys.ES256)).catch((e: unknown) => e);
    expect(replay).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
    const allowed = await open_.guard.verify(token);
    const refusal = await open_.guard
      .consumeOnce(allowed, 'POST /payments')
      .catch((e: unknown) => e);
    expect(refusal).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });

    const synced = events.next('redis.synced');
    await server.start();
    await synced;
    const refusalsBefore = strict.outcomes.length;
    await waitUntil('traffic to be accepted again', () =>
      strict.outcomes.slice(refusalsBefore).includes('ok'),
    );
    await strict.stop();
    await lenient.stop();

    // Fail closed: nothing but acceptances and 503s, in the order ok… 503… ok.
    expect(new Set(strict.outcomes)).toEqual(new Set(['ok', 'ERR_STORE_UNAVAILABLE']));
    expect(strict.outcomes.at(-1)).toBe('ok');
    // Fail open: every request accepted, each unchecked one reported.
    expect(new Set(lenient.outcomes)).toEqual(new Set(['ok']));
    const unchecked = open_.events.ofType('store.unavailable').filter((e) => e.allowed);
    expect(unchecked.length).toBeGreaterThan(0);
    expect(unchecked[0]).toEqual({
      type: 'store.unavailable',
      allowed: true,
      reason: 'RedisStoreError ERR_REDIS_NOT_SYNCED',
    });

    // Revocation works again, with no restart of the store or the guard.
    const { jti, exp } = mint.claims() as { jti: string; exp: number };
    expect(store.isRevoked({ iss: ISSUER, jti })).toBe(false);
    await store.revokeToken({ jti, expiresAt: exp });
    expect(store.isRevoked({ iss: ISSUER, jti })).toBe(true);
    expect(await store.consumeOnce('after', exp)).toBe(true);
  });

  it('notices a subscription that stopped answering, by its heartbeat', async () => {
    const { store, events } = open({ heartbeatIntervalMs: 50, commandTimeoutMs: 200 });
    await store.ready();
    const admin = new Redis((redis as RedisServerProcess).url);
    clients.push(admin);

    const lost = events.next('redis.sync_lost');
    // PUBLISH waits while writes are paused: the echo never comes, though no socket closed.
    await admin.call('CLIENT', 'PAUSE', '30000', 'WRITE');
    try {
      expect(await lost).toEqual({ type: 'redis.sync_lost', reason: 'heartbeat failed' });
      expect(() => store.isRevoked({ iss: ISSUER, jti: 'any' })).toThrow(
        'The revocation set is not synchronised with Redis',
      );
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
    }
    await waitUntil('the store to resynchronise', () => store.healthy);
    expect(store.isRevoked({ iss: ISSUER, jti: 'any' })).toBe(false);
  });
  it('connects its subscriber again when a new connection is accepted but never answered', async () => {
    // A balancer in front of a dead node: it accepts connections and swallows what they send.
    // ioredis bounds the TCP connect, not the ready check after it.
    const server = redis as RedisServerProcess;
    const pairs = new Set<Socket>();
    let blackhole = false;
    const proxy = createNetServer((socket) => {
      pairs.add(socket);
      socket.on('close', () => pairs.delete(socket));
      socket.on('error', () => undefined);
      if (blackhole) return; // accepted, read, never answered
      const upstream = connect(server.port, '127.0.0.1');
      pairs.add(upstream);
      upstream.on('close', () => {
        pairs.delete(upstream);
        socket.destroy();
      });
      upstream.on('error', () => undefined);
      socket.on('close', () => upstream.destroy());
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyPort = (proxy.address() as AddressInfo).port;
    try {
      const options = {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: () => 50,
      };
      const client = new Redis(server.url, options);
      clients.push(client);
      // Only the store's own subscriber connection goes through the balancer.
      Object.assign(client, {
        duplicate: () => new Redis(`redis://127.0.0.1:${proxyPort}`, options),
      });
      const events = createEventRecorder<RedisStoreEvent>();
      const store = createRedisStore({
        client,
        keyPrefix: uniqueKeyPrefix('outage'),
        onEvent: events.listener,
        heartbeatIntervalMs: 50,
        commandTimeoutMs: 200,
      });
      stores.push(store);
      await store.ready();

      const lost = events.next('redis.sync_lost');
      blackhole = true;
      for (const socket of pairs) socket.destroy();
      await lost;
      // Long enough for the reconnection to be accepted and left unanswered.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(store.healthy).toBe(false);
      blackhole = false;
      await waitUntil('the store to resynchronise', () => store.healthy, 5000);
      expect(store.isRevoked({ iss: ISSUER, jti: 'any' })).toBe(false);
    } finally {
      for (const socket of pairs) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
