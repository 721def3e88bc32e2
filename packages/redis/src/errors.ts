const MESSAGES = {
  ERR_REDIS_NOT_SYNCED: 'The revocation set is not synchronised with Redis',
  ERR_REDIS_UNAVAILABLE: 'Redis is not connected',
  ERR_REDIS_TIMEOUT: 'Redis did not answer in time',
  ERR_REDIS_COMMAND: 'A Redis command failed',
  ERR_REDIS_CLOSED: 'The Redis store is closed',
} as const;

/**
 * Why the Redis store could not answer. Stable: part of the public contract.
 * `ERR_REDIS_NOT_SYNCED`: `isRevoked` before the first sync, or since the subscription was
 * lost; `ERR_REDIS_UNAVAILABLE`: the client is disconnected; `ERR_REDIS_TIMEOUT`: no answer
 * within `commandTimeoutMs`; `ERR_REDIS_COMMAND`: Redis or the client failed otherwise (the
 * original error in `cause`); `ERR_REDIS_CLOSED`: the store was closed.
 *
 * @example
 * ```ts
 * const transient: RedisStoreErrorCode[] = ['ERR_REDIS_UNAVAILABLE', 'ERR_REDIS_TIMEOUT'];
 * ```
 */
export type RedisStoreErrorCode = keyof typeof MESSAGES;

/**
 * The one error the Redis store throws or rejects with. The message is fixed per code and
 * never quotes a key (keys hold `jti`s and subjects); the client's own error stays in `cause`.
 * The guard turns it into 503 `ERR_STORE_UNAVAILABLE` and reports `name` and `code` in its
 * `store.unavailable` event.
 *
 * @example
 * ```ts
 * try {
 *   await store.revokeToken({ jti, expiresAt: exp });
 * } catch (error) {
 *   if (error instanceof RedisStoreError && error.code === 'ERR_REDIS_TIMEOUT') retryLater();
 * }
 * ```
 */
export class RedisStoreError extends Error {
  override readonly name = 'RedisStoreError';
  readonly code: RedisStoreErrorCode;

  constructor(code: RedisStoreErrorCode, options: { readonly cause?: unknown } = {}) {
    super(MESSAGES[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
