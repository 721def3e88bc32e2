// How fast a revocation reaches another API instance: a guard with a Redis store runs in a
// second process (test/fixtures/guard-process.mjs) and checks a token on every turn of its
// event loop; this process revokes the token and the child reports when it first refused
// it. Prints the figures and checks the goal: every revocation seen within 100 ms (exit 1
// otherwise). Needs the built packages (`pnpm bench:redis` builds first) and Redis at
// REDIS_URL (default redis://127.0.0.1:6379).
import { fileURLToPath } from 'node:url';
import { createRedisStore } from '@jwt-guard/redis';
import {
  createTestKey,
  createTokenFactory,
  findRedis,
  signJwt,
  startJsonLineProcess,
  uniqueKeyPrefix,
} from '@jwt-guard/testkit';
import { Redis } from 'ioredis';

const GOAL_MS = 100;
const samples = Number(process.env.PROPAGATION_SAMPLES ?? 60);
const issuer = 'https://idp.example/';
const audience = 'https://api.example/';

const url = findRedis();
if (url === undefined) process.exit(0);

const key = createTestKey('ES256', { kid: 'bench' });
const mint = createTokenFactory({ issuer, audience, clock: { nowMs: () => Date.now() } });
const keyPrefix = uniqueKeyPrefix('propagation');
const client = new Redis(url);
const store = createRedisStore({ client, keyPrefix, subjectRevocationTtlSeconds: 60 });
const child = startJsonLineProcess(
  fileURLToPath(new URL('../test/fixtures/guard-process.mjs', import.meta.url)),
  {
    REDIS_URL: url,
    KEY_PREFIX: keyPrefix,
    ISSUER: issuer,
    AUDIENCE: audience,
    KEYS: JSON.stringify(key.jwk),
  },
);

const delays = { token: [], 'token at one issuer': [], subject: [] };
const kinds = Object.keys(delays);
try {
  await Promise.all([store.ready(), child.next('ready')]);
  for (let i = 0; i < samples; i++) {
    const kind = kinds[i % kinds.length];
    const subject = `user-${i}`;
    const claims = mint.claims({ sub: subject });
    const token = signJwt(key, claims);
    child.send({ type: 'watch', id: i, token, timeoutMs: 5000 });
    await child.next('watching');
    const start = performance.timeOrigin + performance.now();
    if (kind === 'token') await store.revokeToken({ jti: claims.jti, expiresAt: claims.exp });
    else if (kind === 'subject')
      await store.revokeSubject({ sub: subject, issuedBefore: claims.iat + 1, iss: issuer });
    else await store.revokeToken({ jti: claims.jti, iss: issuer, expiresAt: claims.exp });
    const refused = await child.next('refused');
    if (refused.code !== 'ERR_TOKEN_REVOKED') throw new Error(`sample ${i}: ${refused.code}`);
    delays[kind].push(refused.at - start);
  }
} finally {
  await child.stop();
  await store.close();
  const stream = client.scanStream({ match: `${keyPrefix}*`, count: 1000 });
  for await (const keys of stream) if (keys.length > 0) await client.del(...keys);
  client.disconnect();
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const rows = Object.entries(delays).map(([kind, list]) => {
  const sorted = [...list].sort((a, b) => a - b);
  return {
    revocation: kind,
    samples: sorted.length,
    'min ms': sorted[0].toFixed(1),
    'median ms': quantile(sorted, 0.5).toFixed(1),
    'p95 ms': quantile(sorted, 0.95).toFixed(1),
    'max ms': sorted.at(-1).toFixed(1),
  };
});
console.log(
  `revocation propagation to another process: revoke() called → first refusal there (node ${process.version})`,
);
console.table(rows);
const worst = Math.max(...Object.values(delays).flat());
console.log(
  worst < GOAL_MS
    ? `ok: every revocation was seen within ${GOAL_MS} ms (worst ${worst.toFixed(1)} ms)`
    : `FAILED: a revocation took ${worst.toFixed(1)} ms, the goal is ${GOAL_MS} ms`,
);
process.exitCode = worst < GOAL_MS ? 0 : 1;
