import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { withTimeout, type CommandRunner } from './commands.js';
import { RedisStoreError } from './errors.js';
import { reasonOf, type RedisStoreEvent } from './events.js';
import type { KeySpace, RedisClient, Revocation } from './keys.js';
import type { LocalRevocations } from './local-set.js';
import { decodeRevocation } from './messages.js';

/** What keeps a local revocation set in step with Redis. */
export interface RevocationSyncOptions {
  /** The application's client: SCAN, GET, PUBLISH. */
  readonly client: RedisClient;
  /** A connection of the store's own, in subscriber mode. */
  readonly subscriber: RedisClient;
  readonly run: CommandRunner;
  readonly keys: KeySpace;
  readonly channel: string;
  readonly local: LocalRevocations;
  readonly now: () => number;
  readonly commandTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly retryDelayMs: number;
  readonly emit: (event: RedisStoreEvent) => void;
}

/** The subscription and resynchronisation behind a Redis store. */
export interface RevocationSync {
  /** Whether the local set is known to hold every revocation: subscribed and synced since. */
  readonly healthy: boolean;
  /** Why it is not healthy, as the error `isRevoked` throws. */
  failure(): RedisStoreError;
  /** Adds a revocation to the local set; a set too full to take it stops being healthy. */
  record(revocation: Revocation): void;
  /** Resolves after the first synchronisation; rejects if closed before. */
  ready(): Promise<void>;
  /** Stops everything and ends the subscriber connection. */
  close(): void;
}

const SCAN_COUNT = 1000;

const isCluster = (client: RedisClient): client is Cluster => client.isCluster;

/**
 * Subscribes, then reads every revocation key, on every (re)connection: a revocation written
 * before the subscription is found by the scan, one written after arrives as a message, so
 * none is missed. Until that is done, and whenever the subscription may have missed a
 * message, `healthy` is false: a stale set must never pass a revoked token silently.
 *
 * A heartbeat publishes on a channel of this instance's own and waits for the echo: it
 * proves the whole path (publish, broadcast, subscription) and catches a dead connection
 * that no TCP event reported.
 *
 * A local set too full to take a revocation is incomplete too: unhealthy until a resync fits,
 * tried again when its soonest entry expires.
 */
export function startRevocationSync(options: RevocationSyncOptions): RevocationSync {
  const { client, subscriber, run, keys, channel, local, now, emit } = options;
  const echoChannel = `${channel}:echo:${randomUUID()}`;
  let healthy = false;
  let closed = false;
  let full = false;
  // Bumped by every event that may lose messages; a sync finishing under an older epoch
  // proves nothing.
  let epoch = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let echo: { readonly token: string; readonly resolve: () => void } | undefined;
  let beats = 0;
  // Messages received so far: proof that the subscription is alive.
  let received = 0;

  let resolveReady: () => void = () => undefined;
  let rejectReady: (error: Error) => void = () => undefined;
  const firstSync = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nobody has to wait for it: no unhandled rejection when closed before the first sync.
  firstSync.catch(() => undefined);

  function lost(reason: Extract<RedisStoreEvent, { type: 'redis.sync_lost' }>['reason']): void {
    epoch++;
    if (healthy) emit({ type: 'redis.sync_lost', reason });
    healthy = false;
  }

  function record(revocation: Revocation): void {
    if (local.add(revocation, now()) || closed) return;
    epoch++;
    if (!full) emit({ type: 'redis.sync_lost', reason: 'local set full' });
    full = true;
    healthy = false;
    // Until an entry expires, a resync could only fill the set again.
    const wait = Math.min(60_000, Math.max(options.retryDelayMs, local.soonestExpiryMs - now()));
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => void resync(), wait);
    retryTimer.unref();
  }

  async function scanAll(mine: number): Promise<number> {
    if (isCluster(client) && client.status !== 'ready') {
      // Before the slots are known `nodes()` is empty: that would be a sync that read nothing.
      throw new RedisStoreError('ERR_REDIS_UNAVAILABLE');
    }
    const nodes = isCluster(client) ? client.nodes('master') : [client];
    let count = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await run(() =>
          node.scan(cursor, 'MATCH', keys.scanPattern, 'COUNT', SCAN_COUNT),
        );
        cursor = next;
        if (found.length === 0) continue;
        // One GET per key through the application's client, which routes each to its slot.
        const values = await run(() =>
          Promise.all(found.map((key) => client.get(keys.clientKey(key)))),
        );
        found.forEach((key, i) => {
          const value = values[i];
          const revocation = value == null ? undefined : keys.parse(key, value);
          if (revocation === undefined) return;
          record(revocation);
          count++;
        });
        // Superseded (the set overflowed, the connection dropped): stop reading.
        if (closed || mine !== epoch) return count;
      } while (cursor !== '0');
    }
    return count;
  }

  async function resync(): Promise<void> {
    clearTimeout(retryTimer);
    const mine = ++epoch;
    healthy = false;
    const started = performance.now();
    try {
      await withTimeout(subscriber.subscribe(channel, echoChannel), options.commandTimeoutMs);
      const entries = await scanAll(mine);
      if (closed || mine !== epoch) return;
      healthy = true;
      full = false;
      emit({ type: 'redis.synced', entries, durationMs: performance.now() - started });
      resolveReady();
    } catch (error) {
      if (closed || mine !== epoch) return;
      emit({ type: 'redis.sync_failed', reason: reasonOf(error) });
      retryTimer = setTimeout(() => void resync(), options.retryDelayMs);
      retryTimer.unref();
    }
  }

  async function heartbeat(): Promise<void> {
    local.sweep(now());
    if (!healthy || echo !== undefined) return;
    const mine = epoch;
    const token = String(++beats);
    const echoed = new Promise<void>((resolve) => {
      echo = { token, resolve };
    });
    try {
      await withTimeout(client.publish(echoChannel, token), options.commandTimeoutMs);
      await untilEchoed(echoed);
    } catch {
      if (closed || mine !== epoch) return;
      lost('heartbeat failed');
      // Reconnecting proves the subscription again and runs a full resync on `ready`.
      subscriber.disconnect(true);
    } finally {
      echo = undefined;
    }
  }

  // The echo queues behind every message published before it: during a burst of
  // revocations it comes late, though the subscription is plainly alive. Only a window of
  // `commandTimeoutMs` without any message at all counts as a dead subscription.
  async function untilEchoed(echoed: Promise<void>): Promise<void> {
    for (;;) {
      const seen = received;
      let timer: NodeJS.Timeout | undefined;
      const quiet = new Promise<'quiet'>((resolve) => {
        // setImmediate: read the I/O that arrived during a stall before calling it quiet.
        timer = setTimeout(() => setImmediate(resolve, 'quiet'), options.commandTimeoutMs);
      });
      const outcome = await Promise.race([echoed.then(() => 'echoed' as const), quiet]);
      clearTimeout(timer);
      if (outcome === 'echoed' || closed) return;
      if (received === seen) throw new RedisStoreError('ERR_REDIS_TIMEOUT');
    }
  }

  subscriber.on('message', (from: string, message: string) => {
    received++;
    if (from === echoChannel) {
      if (echo?.token === message) echo.resolve();
      return;
    }
    if (from !== channel) return;
    const revocation = decodeRevocation(message);
    if (revocation !== undefined) record(revocation);
  });
  subscriber.on('ready', () => {
    if (!closed) void resync();
  });
  subscriber.on('close', () => lost('connection lost'));
  subscriber.on('end', () => lost('connection lost'));
  // Without a listener ioredis reports every connection error on the console; the state
  // change that matters comes through `close`.
  subscriber.on('error', () => undefined);
  if (isCluster(subscriber)) {
    // A Cluster moves its subscription to another node when one fails, and messages
    // published in between are lost: read everything again.
    subscriber.on('-node', () => {
      if (closed) return;
      lost('cluster node lost');
      if (subscriber.status === 'ready') void resync();
    });
  }
  if (subscriber.status === 'wait') subscriber.connect().catch(() => undefined);

  const heartbeatTimer =
    options.heartbeatIntervalMs > 0
      ? setInterval(() => void heartbeat(), options.heartbeatIntervalMs)
      : undefined;
  heartbeatTimer?.unref();

  return {
    get healthy() {
      return healthy && !closed;
    },
    failure() {
      return new RedisStoreError(
        closed ? 'ERR_REDIS_CLOSED' : full ? 'ERR_REDIS_FULL' : 'ERR_REDIS_NOT_SYNCED',
      );
    },
    record,
    ready: () => firstSync,
    close() {
      if (closed) return;
      closed = true;
      healthy = false;
      epoch++;
      clearInterval(heartbeatTimer);
      clearTimeout(retryTimer);
      echo?.resolve();
      rejectReady(new RedisStoreError('ERR_REDIS_CLOSED'));
      subscriber.disconnect();
    },
  };
}
