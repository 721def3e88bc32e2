export { createRedisStore, type RedisStoreOptions, type RedisTokenStore } from './store.js';
export { RedisStoreError, type RedisStoreErrorCode } from './errors.js';
export type { RedisStoreEvent } from './events.js';
export type { RedisClient } from './keys.js';
