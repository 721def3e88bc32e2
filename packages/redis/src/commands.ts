import type { Claims } from '@jwt-guard/core';
import { RedisStoreError } from './errors.js';
import {
  parseValue,
  revocationOf,
  revocationValue,
  type KeySpace,
  type RedisClient,
  type Revocation,
  type RevocationTarget,
} from './keys.js';
import { encodeTarget } from './messages.js';

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
 *
 * @example
 * ```ts
 * const run = createCommandRunner(client, 1000);
 * const ttlMs = await run(() => client.pttl(key)); // RedisStoreError on failure or after 1 s
 * ```
 */
export function createCommandRunner(client: RedisClient, timeoutMs: number) {
  return function run<T>(command: () => Promise<T>): Promise<T> {
    if (OFFLINE.has(client.status)) {
      return Promise.reject(new RedisStoreError('ERR_REDIS_UNAVAILABLE'));
    }
    let pending: Promise<T>;
    try {
      pending = command();
    } catch (error) {
      // A client that throws instead of rejecting still fails as the store promises: one
      // error class, the original in `cause`.
      return Promise.reject(new RedisStoreError('ERR_REDIS_COMMAND', { cause: error }));
    }
    return withTimeout(pending, timeoutMs).catch((error: unknown) => {
      throw isOutage(client, error)
        ? new RedisStoreError('ERR_REDIS_UNAVAILABLE', { cause: error.cause })
        : error;
    });
  };
}

/**
 * Whether a failed command failed because the connection is gone rather than because Redis
 * refused it. ioredis passes through `connecting` while it reconnects, and for a moment after
 * the server closed the socket it still says `ready` while refusing every command with its
 * offline-queue error (it has no error code, only this text).
 */
function isOutage(client: RedisClient, error: unknown): error is RedisStoreError {
  if (!(error instanceof RedisStoreError) || error.code !== 'ERR_REDIS_COMMAND') return false;
  if (client.status !== 'ready') return true;
  const cause: unknown = error.cause;
  return cause instanceof Error && cause.message.startsWith("Stream isn't writeable");
}

/**
 * A command runner bound to a client.
 *
 * @example
 * ```ts
 * function publish(run: CommandRunner, client: RedisClient, channel: string, text: string) {
 *   return run(() => client.publish(channel, text));
 * }
 * ```
 */
export type CommandRunner = ReturnType<typeof createCommandRunner>;

/**
 * Settles like `promise`, or rejects with `ERR_REDIS_TIMEOUT` after `timeoutMs`.
 *
 * @example
 * ```ts
 * await withTimeout(subscriber.subscribe(channel), commandTimeoutMs);
 * ```
 */
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
 * not matter), then publishes what it revokes. Written first: an instance that resynchronises
 * after missing the message still finds the key, and one that gets the message can read it.
 *
 * @example
 * ```ts
 * const revocation: Revocation = { kind: 'token', jti, iss: undefined, expiryMs: exp * 1000 };
 * await writeRevocation(client, run, keys, channel, revocation, Date.now());
 * ```
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
  await run(() => client.publish(channel, encodeTarget(revocation)));
}

/**
 * `SET key 1 PX ttl NX`: atomic, so of any number of concurrent uses exactly one wins.
 *
 * @example
 * ```ts
 * await consumeKey(client, run, keys.once(key), 60_000); // true
 * await consumeKey(client, run, keys.once(key), 60_000); // false: already used
 * ```
 */
export async function consumeKey(
  client: RedisClient,
  run: CommandRunner,
  key: string,
  ttlMs: number,
): Promise<boolean> {
  const reply = await run(() => client.set(key, '1', 'PX', ttlMs, 'NX'));
  return reply === 'OK';
}

/**
 * Runs single-key read commands in one round trip. A standalone (or Sentinel) client sends
 * them as one pipeline, one write however many keys; a Cluster gets each command on its own,
 * since its pipelines must stay within one node and these keys spread over all of them.
 */
async function readMany(
  client: RedisClient,
  commands: readonly (readonly [command: 'get' | 'pttl', key: string])[],
): Promise<unknown[]> {
  if (client.isCluster) {
    return Promise.all(commands.map(([command, key]) => client[command](key)));
  }
  const pipeline = client.pipeline();
  for (const [command, key] of commands) pipeline[command](key);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

/**
 * Reads what Redis holds for each target (GET and PTTL): the revocation with its real
 * lifetime, or `undefined` where no key is.
 *
 * @example
 * ```ts
 * const [revocation] = await readRevocations(client, run, keys, [target], Date.now);
 * if (revocation !== undefined) local.add(revocation, Date.now());
 * ```
 */
export async function readRevocations(
  client: RedisClient,
  run: CommandRunner,
  keys: KeySpace,
  targets: readonly RevocationTarget[],
  now: () => number,
): Promise<(Revocation | undefined)[]> {
  if (targets.length === 0) return [];
  const replies = await run(() =>
    readMany(
      client,
      targets.flatMap((target) => {
        const key = keys.revocation(target);
        return [['get', key] as const, ['pttl', key] as const];
      }),
    ),
  );
  const nowMs = now();
  return targets.map((target, i) =>
    revocationOf(target, replies[2 * i] as string | null, replies[2 * i + 1] as number, nowMs),
  );
}

/**
 * Answers `isRevoked` from Redis itself, for an instance whose local set could not hold every
 * revocation: the keys that could revoke these claims (the token's, at its issuer and at
 * every issuer; the subject's, likewise), in one round trip.
 *
 * @example
 * ```ts
 * if (local.isRevoked(claims, now())) return true;
 * return sync.degraded ? isRevokedInRedis(client, run, keys, claims) : false;
 * ```
 */
export async function isRevokedInRedis(
  client: RedisClient,
  run: CommandRunner,
  keys: KeySpace,
  claims: Readonly<Claims>,
): Promise<boolean> {
  const tokens: RevocationTarget[] =
    typeof claims.jti === 'string' && claims.jti !== ''
      ? [
          { kind: 'token', jti: claims.jti, iss: undefined },
          { kind: 'token', jti: claims.jti, iss: claims.iss },
        ]
      : [];
  const subjects: RevocationTarget[] =
    typeof claims.sub === 'string' && claims.sub !== ''
      ? [
          { kind: 'subject', sub: claims.sub, iss: undefined },
          { kind: 'subject', sub: claims.sub, iss: claims.iss },
        ]
      : [];
  const targets = [...tokens, ...subjects];
  if (targets.length === 0) return false;
  const values = (await run(() =>
    readMany(
      client,
      targets.map((target) => ['get', keys.revocation(target)] as const),
    ),
  )) as (string | null)[];
  // A token without `iat` cannot show it was issued after the revocation.
  const issuedMs = typeof claims.iat === 'number' ? claims.iat * 1000 : -Infinity;
  return values.some((value, i) => {
    const parsed = value === null ? undefined : parseValue(value);
    if (parsed === undefined) return false;
    return i < tokens.length || issuedMs < parsed.rank;
  });
}
