/**
 * What the Redis store reports through its `onEvent` listener: when its revocation set is
 * trustworthy, and when it stops being so.
 *
 * @example
 * ```ts
 * createRedisStore({
 *   client,
 *   onEvent: (event) => event.type === 'redis.sync_lost' && log.warn(event),
 * });
 * ```
 */
export type RedisStoreEvent =
  /** The local set caught up with Redis (at startup, after every reconnection). */
  | {
      readonly type: 'redis.synced';
      /** Revocation keys read from Redis. */
      readonly entries: number;
      readonly durationMs: number;
    }
  /** The local set may miss revocations from now on: `isRevoked` throws until the next sync. */
  | {
      readonly type: 'redis.sync_lost';
      /** `local set full`: `maxEntries` live revocations held, and one more arrived. */
      readonly reason:
        'connection lost' | 'heartbeat failed' | 'cluster node lost' | 'local set full';
    }
  /** A synchronisation attempt failed; it is retried. `reason` is an error name and code. */
  | { readonly type: 'redis.sync_failed'; readonly reason: string };

/** Calls the application's listener; a listener that throws changes nothing. */
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

/** An error's name and code for an event, never its message (it may quote a key). */
export function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown failure';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.name} ${code}` : error.name;
}
