import {
  checkInstant,
  ConfigurationError,
  type Claims,
  type Clock,
  type Instant,
  type TokenStore,
} from '@jwt-guard/core';
import type { Cluster, Redis } from 'ioredis';
import { consumeKey, createCommandRunner, isRevokedInRedis, writeRevocation } from './commands.js';
import { createEmitter, type RedisStoreEvent } from './events.js';
import { createKeySpace, type RedisClient, type Revocation } from './keys.js';
import { createLocalRevocations } from './local-set.js';
import { startRevocationSync } from './sync.js';

/**
 * Options of {@link createRedisStore}. Only `client` is required.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = {
 *   client: new Redis(process.env.REDIS_URL, { enableOfflineQueue: false }),
 *   keyPrefix: 'orders-api:',
 *   clockToleranceSeconds: 30, // as the guard's
 * };
 * ```
 */
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` (standalone or Sentinel-backed) or `Cluster` that the application owns
   * and closes. The store never closes it; it opens one connection of its own with
   * `client.duplicate()` for the subscription, which `close()` ends.
   */
  readonly client: RedisClient;
  /** Prefix of every key the store writes; default `jwt-guard:`. One prefix per fleet. */
  readonly keyPrefix?: string;
  /** Pub/sub channel of revocations; default `<keyPrefix>revocations`. */
  readonly channel?: string;
  /**
   * Most revocations held in memory per instance; default 100000. A live revocation is never
   * evicted: while the set is full, `isRevoked` asks Redis about what it does not hold (one
   * round trip per request, event `redis.degraded`) until expiries make room. Size it above
   * the fleet's live revocations.
   */
  readonly maxEntries?: number;
  /**
   * How long a subject revocation is kept after its `issuedBefore` (plus
   * `clockToleranceSeconds`): at least the guard's `maxLifetimeSeconds`; default 86400.
   */
  readonly subjectRevocationTtlSeconds?: number;
  /**
   * Kept past a token's expiry, because the guard still accepts a token that long after
   * `exp`: the guard's `clockToleranceSeconds`; default 5 (the guard's default). The guard
   * refuses at startup a store whose tolerance is below its own.
   */
  readonly clockToleranceSeconds?: number;
  /** Deadline of every Redis command; default 1000. */
  readonly commandTimeoutMs?: number;
  /**
   * How often the subscription proves itself by publishing an echo to itself, which catches
   * a connection that died without a TCP close (a partition); default 1000; 0 turns it off.
   * No message at all for `commandTimeoutMs` after an echo counts as a lost subscription.
   * The same timer reconnects a subscription connection accepted but never ready; with 0,
   * nothing does.
   */
  readonly heartbeatIntervalMs?: number;
  /** Wait before retrying a failed synchronisation; default 200. */
  readonly retryDelayMs?: number;
  /** Time source for expiries; default the system clock. */
  readonly clock?: Clock;
  /** Receives the store's {@link RedisStoreEvent}s. */
  readonly onEvent?: (event: RedisStoreEvent) => void;
}

/**
 * A {@link TokenStore} shared by every API instance through Redis, answering `isRevoked`
 * from memory (from Redis, for what memory cannot hold, while `degraded`).
 *
 * @example
 * ```ts
 * const store: RedisTokenStore = createRedisStore({ client });
 * await store.ready();
 * health.register('revocations', () => store.healthy);
 * process.on('SIGTERM', () => void store.close().then(() => client.quit()));
 * ```
 */
export interface RedisTokenStore extends TokenStore {
  /**
   * Answers from the in-process set, synchronously; while `degraded`, a token the set does not
   * hold is looked up in Redis (a promise, rejecting with a `RedisStoreError` if Redis fails).
   * Throws a `RedisStoreError` while the set cannot be trusted (before the first sync, while
   * disconnected, until resynchronised): the guard answers 503 `ERR_STORE_UNAVAILABLE`, or
   * lets the request through when configured with `storeUnavailable: 'allow'`.
   */
  isRevoked(claims: Readonly<Claims>): boolean | Promise<boolean>;
  /** Resolves once the local set has caught up with Redis for the first time. */
  ready(): Promise<void>;
  /** Ends the store's own subscriber connection; the application's client stays open. */
  close(): Promise<void>;
  /** Whether `isRevoked` answers now. */
  readonly healthy: boolean;
  /** Whether the local set is too full to hold every revocation, so Redis answers for it. */
  readonly degraded: boolean;
  /** How long past `exp` revocations and one-time keys are kept (the option, default 5). */
  readonly clockToleranceSeconds: number;
  /** Revocations held in memory. */
  readonly localSize: number;
}

const misconfigured = (message: string): ConfigurationError =>
  new ConfigurationError(`createRedisStore: ${message}`);

function positive(name: string, value: unknown, fallback: number, min: number): number {
  const result = value ?? fallback;
  if (typeof result !== 'number' || !Number.isFinite(result) || result < min) {
    throw misconfigured(`"${name}" must be a number >= ${min}`);
  }
  return result;
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`"${name}" must be a non-empty string`);
  }
  return value;
}

function checkClient(client: unknown): RedisClient {
  const candidate = client as Partial<RedisClient> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.duplicate !== 'function' ||
    typeof candidate.eval !== 'function'
  ) {
    throw misconfigured('"client" must be an ioredis Redis or Cluster');
  }
  return candidate as RedisClient;
}

/**
 * The fleet's {@link TokenStore}. Revocations are written to Redis with the remaining
 * lifetime as TTL and published; every instance keeps them in a bounded in-process set that
 * answers `isRevoked` with no network round trip, learns of new ones from the channel within
 * milliseconds (a message only names the key, which each instance reads), and reads them all
 * again after every reconnection. One-time keys live in Redis only (`SET NX`, atomic across
 * the fleet). Works with a standalone, Sentinel-backed or Cluster client. Needs Redis ≥ 6.2.
 *
 * For fast failure while Redis is down, create the client with `enableOfflineQueue: false`
 * (and `maxRetriesPerRequest: 1`); either way each command has a `commandTimeoutMs` deadline.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const client = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false });
 * const store = createRedisStore({ client, keyPrefix: 'orders-api:' });
 * await store.ready();
 * app.use(jwtGuard({ issuer, audience, store }));
 * ```
 */
export function createRedisStore(options: RedisStoreOptions): RedisTokenStore {
  const client = checkClient(options.client);
  const keyPrefix = options.keyPrefix ?? 'jwt-guard:';
  if (typeof keyPrefix !== 'string') throw misconfigured('"keyPrefix" must be a string');
  const channel = options.channel ?? `${keyPrefix}revocations`;
  if (typeof channel !== 'string' || channel === '') {
    throw misconfigured('"channel" must be a non-empty string');
  }
  const maxEntries = positive('maxEntries', options.maxEntries, 100_000, 1);
  if (!Number.isInteger(maxEntries)) throw misconfigured('"maxEntries" must be an integer');
  const clockToleranceSeconds = positive(
    'clockToleranceSeconds',
    options.clockToleranceSeconds,
    5,
    0,
  );
  const toleranceMs = clockToleranceSeconds * 1000;
  // A token issued just before `issuedBefore` is accepted until its exp plus the tolerance.
  const subjectTtlMs =
    positive('subjectRevocationTtlSeconds', options.subjectRevocationTtlSeconds, 86_400, 1) * 1000 +
    toleranceMs;
  const commandTimeoutMs = positive('commandTimeoutMs', options.commandTimeoutMs, 1000, 1);
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs, 1000, 0);
  const retryDelayMs = positive('retryDelayMs', options.retryDelayMs, 200, 0);
  const clock = options.clock ?? { nowMs: () => Date.now() };
  const now = (): number => clock.nowMs();
  const emit = createEmitter(options.onEvent);

  const clientKeyPrefix = (client.options as { keyPrefix?: string }).keyPrefix ?? '';
  const keys = createKeySpace(keyPrefix, clientKeyPrefix);
  const run = createCommandRunner(client, commandTimeoutMs);
  const local = createLocalRevocations(maxEntries);
  const sync = startRevocationSync({
    client,
    // Two calls: the union of the two `duplicate` signatures is not callable as one.
    subscriber: client.isCluster ? (client as Cluster).duplicate() : (client as Redis).duplicate(),
    run,
    keys,
    channel,
    local,
    maxEntries,
    now,
    commandTimeoutMs,
    heartbeatIntervalMs,
    retryDelayMs,
    emit,
  });

  async function revoke(revocation: Revocation): Promise<void> {
    // Applied here at once, also when Redis fails: this instance errs on the safe side.
    sync.record(revocation);
    await writeRevocation(client, run, keys, channel, revocation, now());
  }

  return {
    clockToleranceSeconds,
    async revokeToken({ jti, expiresAt, iss }) {
      await revoke({
        kind: 'token',
        jti: nonEmpty('jti', jti),
        iss: iss === undefined ? undefined : nonEmpty('iss', iss),
        expiryMs: checkInstant('expiresAt', expiresAt) + toleranceMs,
      });
    },
    async revokeSubject({ sub, issuedBefore, iss }) {
      const issuedBeforeMs = checkInstant('issuedBefore', issuedBefore);
      await revoke({
        kind: 'subject',
        sub: nonEmpty('sub', sub),
        iss: iss === undefined ? undefined : nonEmpty('iss', iss),
        issuedBeforeMs,
        expiryMs: issuedBeforeMs + subjectTtlMs,
      });
    },
    isRevoked(claims) {
      // A revocation this instance holds stays true while Redis is away: only what it cannot
      // know is a store failure (503, or served under storeUnavailable: 'allow').
      if (local.isRevoked(claims, now())) return true;
      if (!sync.healthy) throw sync.failure();
      // The set could not hold everything: what it does not hold, Redis still does.
      return sync.degraded ? isRevokedInRedis(client, run, keys, claims) : false;
    },
    async consumeOnce(key: string, expiresAt: Instant) {
      const id = keys.once(nonEmpty('key', key));
      const ttlMs = checkInstant('expiresAt', expiresAt) + toleranceMs - now();
      // An expired key can no longer be used, not even once.
      if (ttlMs <= 0) return false;
      return consumeKey(client, run, id, Math.ceil(ttlMs));
    },
    ready: () => sync.ready(),
    close() {
      sync.close();
      return Promise.resolve();
    },
    get healthy() {
      return sync.healthy;
    },
    get degraded() {
      return sync.degraded;
    },
    get localSize() {
      return local.size;
    },
  };
}
