// Starts the orders API. Examples are the only code that reads the environment.
import { createRedisStore } from '@jwt-guard/redis';
import { Redis } from 'ioredis';
import { createOrdersApp } from './app.js';

const port = Number(process.env.PORT ?? 3001);
const issuer = process.env.ISSUER_URL ?? 'http://127.0.0.1:4000';
const audience = process.env.AUDIENCE ?? 'https://api.example/';
// What clients put in their DPoP proofs' htu: the address they call, which only whoever starts
// the API knows (behind a proxy, its public name).
const publicOrigin = process.env.PUBLIC_ORIGIN ?? `http://127.0.0.1:${port}`;
// With REDIS_URL, revocations and spent DPoP proofs are shared by every instance (a fleet);
// without, kept in memory.
const redisUrl = process.env.REDIS_URL;
const store =
  redisUrl === undefined
    ? undefined
    : createRedisStore({
        client: new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }),
      });

// Listen only once the store has read Redis's revocations: before that it answers 503.
void (store?.ready() ?? Promise.resolve()).then(
  () => {
    createOrdersApp({ issuer, audience, publicOrigin, store }).listen(port, '127.0.0.1', () => {
      console.log(
        `orders API (koa) on http://127.0.0.1:${port}, trusting ${issuer} for ${audience}; DPoP proofs name ${publicOrigin}`,
      );
    });
  },
  (error: unknown) => {
    console.error(`cannot start: Redis at REDIS_URL did not answer (${String(error)})`);
    process.exit(1);
  },
);
