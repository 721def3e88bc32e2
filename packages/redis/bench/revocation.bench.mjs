// Cost per request of the revocation check: the guard without a store, with core's memory
// store, with the Redis store (answered from its local set, no network round trip), and with
// a Redis store whose local set is too small for the fleet's revocations (degraded: one
// round trip to Redis per request). Each store holds 10 000 revoked tokens and 1 000 revoked
// subjects, none of them the benchmark's. Run with `pnpm bench:redis` (it builds first); needs Redis at REDIS_URL
// (default redis://127.0.0.1:6379). Figures are printed, never asserted: the candidates run
// interleaved, round after round, and the median of the rounds is reported, as in
// packages/core/bench/verify.bench.mjs.
import { createGuard, createMemoryStore } from '@jwt-guard/core';
import { createRedisStore } from '@jwt-guard/redis';
import { createTestKey, findRedis, signJwt, uniqueKeyPrefix } from '@jwt-guard/testkit';
import { Redis } from 'ioredis';

const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const roundMs = Number(process.env.BENCH_ROUND_MS ?? 200);
const issuer = 'https://idp.example/';
const audience = 'https://api.example/';
const now = Math.floor(Date.now() / 1000);

const url = findRedis();
if (url === undefined) process.exit(0);

async function fill(store) {
  const revocations = [];
  for (let i = 0; i < 10_000; i++)
    revocations.push(store.revokeToken({ jti: `revoked-${i}`, expiresAt: now + 600 }));
  for (let i = 0; i < 1_000; i++)
    revocations.push(store.revokeSubject({ sub: `revoked-user-${i}`, issuedBefore: now }));
  await Promise.all(revocations);
}

async function runRounds(candidates) {
  const rates = Object.fromEntries(Object.keys(candidates).map((name) => [name, []]));
  for (let round = 0; round <= rounds; round++) {
    for (const [name, fn] of Object.entries(candidates)) {
      const start = performance.now();
      let count = 0;
      while (performance.now() - start < roundMs) {
        for (let i = 0; i < 20; i++) await fn();
        count += 20;
      }
      // Round 0 warms every candidate up.
      if (round > 0) rates[name].push((count * 1000) / (performance.now() - start));
    }
  }
  return Object.fromEntries(
    Object.entries(rates).map(([name, list]) => [
      name,
      list.sort((a, b) => a - b)[list.length >> 1],
    ]),
  );
}

const keyPrefix = uniqueKeyPrefix('bench');
const client = new Redis(url);
const redisStore = createRedisStore({ client, keyPrefix, subjectRevocationTtlSeconds: 600 });
const memoryStore = createMemoryStore();
let degradedStore;
try {
  await redisStore.ready();
  await Promise.all([fill(redisStore), fill(memoryStore)]);
  degradedStore = createRedisStore({ client, keyPrefix, maxEntries: 1000 });
  await degradedStore.ready();
  if (!degradedStore.degraded) throw new Error('the small store should be degraded');

  const key = createTestKey('ES256', { kid: 'bench' });
  const token = signJwt(key, {
    iss: issuer,
    sub: 'auth0|5f7c8ec7c33c6c004bbafe82',
    aud: audience,
    iat: now,
    exp: now + 3600,
    jti: 'f5b6a1c2-7d3e-4f8a-9b0c-1d2e3f4a5b6c',
    scope: 'read:items write:items',
  });
  const base = { issuer, audience, keys: key.publicPem, algorithms: ['ES256'] };
  const stores = {
    'no store': undefined,
    'memory store': memoryStore,
    'Redis store': redisStore,
    'Redis store, degraded': degradedStore,
  };

  console.log(
    `guard.verify per second, ES256, one core, median of ${rounds} interleaved rounds of ${roundMs} ms (node ${process.version})`,
  );
  const rows = [];
  for (const cache of [true, false]) {
    const candidates = Object.fromEntries(
      Object.entries(stores).map(([name, store]) => {
        const guard = createGuard({ ...base, store, cache: cache ? undefined : false });
        return [name, () => guard.verify(token)];
      }),
    );
    for (const fn of Object.values(candidates)) await fn(); // each must accept the token
    const rates = await runRounds(candidates);
    const baseline = rates['no store'];
    for (const [name, rate] of Object.entries(rates)) {
      rows.push({
        path: cache ? 'cache hit' : 'no cache',
        store: name,
        'verify/s': rate >= 1e6 ? `${(rate / 1e6).toFixed(2)}M` : `${(rate / 1e3).toFixed(1)}k`,
        'µs per request': (1e6 / rate).toFixed(2),
        'rate / no store': `${((rate / baseline) * 100).toFixed(0)}%`,
        'added µs': name === 'no store' ? '' : (1e6 / rate - 1e6 / baseline).toFixed(2),
      });
    }
  }
  console.table(rows);
} finally {
  await redisStore.close();
  await degradedStore?.close();
  const stream = client.scanStream({ match: `${keyPrefix}*`, count: 1000 });
  for await (const keys of stream) if (keys.length > 0) await client.del(...keys);
  client.disconnect();
}
