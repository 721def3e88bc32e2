/**
 * What the Redis store reports through its `onEvent` listener: when its revocation set is
 * trustworthy, when it stops being so, and when it is too small to hold every revocation.
 *
 * @example
 * ```ts
 * createRedisStore({
 *   client,
 *   onEvent: (event) => {
 *     if (event.type === 'redis.sync_lost' || event.type === 'redis.degraded') log.warn(event);
 *   },
 * });
 * ```
 */
export type RedisStoreEvent =
  /** The local set caught up with Redis (at startup, after every reconnection). */
  | {
      readonly type: 'redis.synced';
      /** Revocation keys read from Redis (more than the set holds when it is degraded). */
      readonly entries: number;
      readonly durationMs: number;
    }
  /** The local set may miss revocations from now on: `isRevoked` throws until the next sync. */
  | {
      readonly type: 'redis.sync_lost';
      /** `message unreadable`: a revocation was announced, and reading its key failed. */
      readonly reason:
        'connection lost' | 'heartbeat failed' | 'cluster node lost' | 'message unreadable';
    }
  /** A synchronisation attempt failed; it is retried. `reason` is an error name and code. */
  | { readonly type: 'redis.sync_failed'; readonly reason: string }
  /**
   * The local set holds `maxEntries` live revocations and could not take another: from now on
   * `isRevoked` asks Redis for what the set does not answer (one round trip per request).
   */
  | {
      readonly type: 'redis.degraded';
      readonly reason: 'local set full';
      readonly maxEntries: number;
    }
  /** Expiries made room and every revocation fits again: `isRevoked` answers from memory. */
  | {
      readonly type: 'redis.restored';
      /** Revocations held now. */
      readonly entries: number;
    };

/**
 * Calls the application's listener; a listener that throws changes nothing.
 *
 * @example
 * ```ts
 * const emit = createEmitter(options.onEvent);
 * emit({ type: 'redis.sync_failed', reason: reasonOf(error) });
 * ```
 */
export function createEmitter(
  listener: ((event: RedisStoreEvent) => void) | undefined,
): (event: RedisStoreEvent) => void {
  if (listener === undefined) return () => undefined;
  return (event) => {
    try {
      listener(event);
    } catch {
      // A monitoring hook must not break the revocation feed.
    }
  };
}

/**
 * An error's name and code for an event, never its message (it may quote a key).
 *
 * @example
 * ```ts
 * reasonOf(new RedisStoreError('ERR_REDIS_TIMEOUT')); // 'RedisStoreError ERR_REDIS_TIMEOUT'
 * reasonOf(new TypeError('bad key t:abc')); // 'TypeError'
 * ```
 */
export function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown failure';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.name} ${code}` : error.name;
}
