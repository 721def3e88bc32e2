import { RedisStoreError } from './errors.js';
import { revocationValue, type KeySpace, type RedisClient, type Revocation } from './keys.js';
import { encodeRevocation } from './messages.js';

// Keeps the stronger of two revocations of one key: the higher rank (a token's later expiry,
// a subject's later `issuedBefore`). One key, so it runs on any Cluster node.
const WRITE_REVOCATION = `
local current = redis.call('GET', KEYS[1])
if current then
  local rank = tonumber(string.match(current, '^%S+'))
  if rank and rank >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/** Statuses in which a command cannot reach Redis now: fail at once rather than queue. */
const OFFLINE = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

/**
 * Runs one command against the application's client with a deadline, so a request never
 * hangs on Redis whatever the client's `enableOfflineQueue` and `maxRetriesPerRequest`.
 * A command that times out may still run later: every command here is safe to apply late.
 */
export function createCommandRunner(client: RedisClient, timeoutMs: number) {
  return function run<T>(command: () => Promise<T>): Promise<T> {
    if (OFFLINE.has(client.status)) {
      return Promise.reject(new RedisStoreError('ERR_REDIS_UNAVAILABLE'));
    }
    return withTimeout(command(), timeoutMs);
  };
}

/** A command runner bound to a client. */
export type CommandRunner = ReturnType<typeof createCommandRunner>;

/** Settles like `promise`, or rejects with `ERR_REDIS_TIMEOUT` after `timeoutMs`. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // setImmediate: timers run before I/O in Node's event loop, so after a stall a bare
    // timer would fire ahead of a reply that had arrived in time.
    const timer = setTimeout(
      () => setImmediate(() => reject(new RedisStoreError('ERR_REDIS_TIMEOUT'))),
      timeoutMs,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(
          error instanceof RedisStoreError
            ? error
            : new RedisStoreError('ERR_REDIS_COMMAND', { cause: error }),
        );
      },
    );
  });
}

/**
 * Stores a revocation until it expires (TTL relative to now, so the Redis server's clock does
 * not matter), then publishes it. Written first: an instance that resynchronises after
 * missing the message still finds the key.
 */
export async function writeRevocation(
  client: RedisClient,
  run: CommandRunner,
  keys: KeySpace,
  channel: string,
  revocation: Revocation,
  nowMs: number,
): Promise<void> {
  const ttlMs = Math.ceil(revocation.expiryMs - nowMs);
  if (ttlMs <= 0) return;
  const { rank, value } = revocationValue(revocation);
  const key = keys.revocation(revocation);
  await run(() => client.eval(WRITE_REVOCATION, 1, key, rank, value, ttlMs));
  await run(() => client.publish(channel, encodeRevocation(revocation)));
}

/** `SET key 1 PX ttl NX`: atomic, so of any number of concurrent uses exactly one wins. */
export async function consumeKey(
  client: RedisClient,
  run: CommandRunner,
  key: string,
  ttlMs: number,
): Promise<boolean> {
  const reply = await run(() => client.set(key, '1', 'PX', ttlMs, 'NX'));
  return reply === 'OK';
}
