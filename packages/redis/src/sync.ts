import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { readRevocations, withTimeout, type CommandRunner } from './commands.js';
import { RedisStoreError } from './errors.js';
import { reasonOf, type RedisStoreEvent } from './events.js';
import type { KeySpace, RedisClient, Revocation, RevocationTarget } from './keys.js';
import type { LocalRevocations } from './local-set.js';
import { decodeTarget } from './messages.js';

/**
 * What keeps a local revocation set in step with Redis.
 *
 * @example
 * ```ts
 * const options: RevocationSyncOptions = {
 *   client,
 *   subscriber: client.duplicate(),
 *   run: createCommandRunner(client, 1000),
 *   keys: createKeySpace('jwt-guard:', ''),
 *   channel: 'jwt-guard:revocations',
 *   local: createLocalRevocations(100_000),
 *   maxEntries: 100_000,
 *   now: () => Date.now(),
 *   commandTimeoutMs: 1000,
 *   heartbeatIntervalMs: 1000,
 *   retryDelayMs: 200,
 *   emit: createEmitter(onEvent),
 * };
 * ```
 */
export interface RevocationSyncOptions {
  /** The application's client: SCAN, GET, PTTL, PUBLISH. */
  readonly client: RedisClient;
  /** A connection of the store's own, in subscriber mode. */
  readonly subscriber: RedisClient;
  readonly run: CommandRunner;
  readonly keys: KeySpace;
  readonly channel: string;
  readonly local: LocalRevocations;
  /** The local set's bound, for the `redis.degraded` event. */
  readonly maxEntries: number;
  readonly now: () => number;
  readonly commandTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly retryDelayMs: number;
  readonly emit: (event: RedisStoreEvent) => void;
}

/**
 * The subscription and resynchronisation behind a Redis store.
 *
 * @example
 * ```ts
 * const sync: RevocationSync = startRevocationSync(options);
 * await sync.ready();
 * if (!sync.healthy) throw sync.failure(); // ERR_REDIS_NOT_SYNCED while it catches up
 * ```
 */
export interface RevocationSync {
  /**
   * Whether `isRevoked` may answer: subscribed, and every revocation key read since. The
   * local set holds them all unless `degraded`.
   */
  readonly healthy: boolean;
  /** Whether the local set could not hold every revocation: ask Redis what it does not hold. */
  readonly degraded: boolean;
  /** Why it is not healthy, as the error `isRevoked` throws. */
  failure(): RedisStoreError;
  /** Adds a revocation to the local set; one it cannot hold makes the set degraded. */
  record(revocation: Revocation): void;
  /** Resolves after the first synchronisation; rejects if closed before. */
  ready(): Promise<void>;
  /** Stops everything and ends the subscriber connection. */
  close(): void;
}

const SCAN_COUNT = 1000;
// A degraded set is read again at least this often, whatever its soonest expiry...
const MAX_REFILL_WAIT_MS = 60_000;
// ...and waits at least this many times the last scan's duration in between, so that a fleet
// whose revocations keep overflowing the set does not spend its time scanning.
const REFILL_DUTY_FACTOR = 10;

const isCluster = (client: RedisClient): client is Cluster => client.isCluster;

/**
 * Subscribes, then reads every revocation key, on every (re)connection: a revocation written
 * before the subscription is found by the scan, one written after arrives as a message, so
 * none is missed. Until that is done, and whenever the subscription may have missed a
 * message, `healthy` is false: a stale set must never pass a revoked token silently.
 *
 * A message only says which key to read: the local set changes only by what Redis holds,
 * with the lifetime Redis gives it. Anyone allowed to PUBLISH on the channel can send
 * anything, but cannot revoke what no key revokes, nor make a revocation outlive its key.
 *
 * A heartbeat publishes on a channel of this instance's own and waits for the echo: it
 * proves the whole path (publish, broadcast, subscription) and catches a dead connection
 * that no TCP event reported.
 *
 * A local set too full to take a revocation is incomplete: `degraded`, and the store asks
 * Redis for what the set does not hold. The set is read again once expiries make room; when
 * everything fits, it answers alone again.
 *
 * @example
 * ```ts
 * const sync = startRevocationSync({ ...options, subscriber: client.duplicate() });
 * await sync.ready();
 * sync.record(revocation); // applied locally at once, before Redis confirms
 * ```
 */
export function startRevocationSync(options: RevocationSyncOptions): RevocationSync {
  const { client, subscriber, run, keys, channel, local, now, emit } = options;
  const echoChannel = `${channel}:echo:${randomUUID()}`;
  let healthy = false;
  let closed = false;
  let degraded = false;
  // Revocations the local set could not take, ever: a scan during which this did not change
  // has put every key in the set.
  let overflows = 0;
  // The soonest expiry of those it could not take since the last scan began: when they are
  // gone from Redis, what is left may fit.
  let missingSoonestMs = Infinity;
  // Bumped by every event that may lose messages; a sync finishing under an older epoch
  // proves nothing.
  let epoch = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let refillTimer: NodeJS.Timeout | undefined;
  let refillAtMs = Infinity;
  let lastScanMs = 0;
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
    if (closed || local.add(revocation, now())) return;
    overflows++;
    missingSoonestMs = Math.min(missingSoonestMs, revocation.expiryMs);
    if (!degraded) {
      degraded = true;
      emit({ type: 'redis.degraded', reason: 'local set full', maxEntries: options.maxEntries });
    }
    scheduleRefill();
  }

  function scheduleRefill(): void {
    if (closed) return;
    // Until an entry here or a revocation it lacks expires, reading everything again could
    // only overflow again.
    const wait = Math.min(
      MAX_REFILL_WAIT_MS,
      Math.max(
        options.retryDelayMs,
        REFILL_DUTY_FACTOR * lastScanMs,
        Math.min(local.soonestExpiryMs, missingSoonestMs) - now(),
      ),
    );
    // A refill already due sooner stands; a later one gives way to this one.
    if (refillTimer !== undefined && refillAtMs <= now() + wait) return;
    clearTimeout(refillTimer);
    refillAtMs = now() + wait;
    refillTimer = setTimeout(() => {
      refillTimer = undefined;
      refillAtMs = Infinity;
      void refill();
    }, wait);
    refillTimer.unref();
  }

  function undegrade(): void {
    if (!degraded) return;
    degraded = false;
    emit({ type: 'redis.restored', entries: local.size });
  }

  // While healthy and degraded: read every key again, without ever answering 503 meanwhile.
  async function refill(): Promise<void> {
    // Not healthy: the resync on the way reads everything anyway.
    if (closed || !degraded || !healthy) return;
    const mine = epoch;
    const before = overflows;
    const started = performance.now();
    try {
      await scanAll(mine);
      lastScanMs = performance.now() - started;
    } catch {
      if (closed || mine !== epoch) return;
      return scheduleRefill();
    }
    if (closed || mine !== epoch) return;
    if (overflows === before) undegrade();
    else scheduleRefill();
  }

  // Targets announced since the last read: the messages of one socket read are read back
  // together, in one round trip.
  let announced: RevocationTarget[] = [];

  function announce(target: RevocationTarget): void {
    announced.push(target);
    if (announced.length === 1) queueMicrotask(() => void follow());
  }

  // A message names a key: only what Redis holds there changes the local set.
  async function follow(): Promise<void> {
    const targets = announced;
    announced = [];
    const mine = epoch;
    try {
      const revocations = await readRevocations(client, run, keys, targets, now);
      for (const revocation of revocations) if (revocation !== undefined) record(revocation);
    } catch {
      // A revocation may exist that this set now lacks: read everything again.
      if (closed || mine !== epoch) return;
      lost('message unreadable');
      void resync();
    }
  }

  async function scanAll(mine: number): Promise<number> {
    if (isCluster(client) && client.status !== 'ready') {
      // Before the slots are known `nodes()` is empty: that would be a sync that read nothing.
      throw new RedisStoreError('ERR_REDIS_UNAVAILABLE');
    }
    const nodes = isCluster(client) ? client.nodes('master') : [client];
    missingSoonestMs = Infinity;
    let count = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await run(() =>
          node.scan(cursor, 'MATCH', keys.scanPattern, 'COUNT', SCAN_COUNT),
        );
        cursor = next;
        const targets = found.flatMap((key) => keys.targetOf(key) ?? []);
        const revocations = await readRevocations(client, run, keys, targets, now);
        for (const revocation of revocations) {
          if (revocation === undefined) continue;
          record(revocation);
          count++;
        }
        // Superseded (the connection dropped): stop reading. An overflowing set reads on, to
        // learn when what it lacks expires.
        if (closed || mine !== epoch) return count;
      } while (cursor !== '0');
    }
    return count;
  }

  async function resync(): Promise<void> {
    clearTimeout(retryTimer);
    const mine = ++epoch;
    healthy = false;
    const before = overflows;
    const started = performance.now();
    try {
      await withTimeout(subscriber.subscribe(channel, echoChannel), options.commandTimeoutMs);
      const entries = await scanAll(mine);
      if (closed || mine !== epoch) return;
      healthy = true;
      lastScanMs = performance.now() - started;
      emit({ type: 'redis.synced', entries, durationMs: lastScanMs });
      if (overflows === before) undegrade();
      else scheduleRefill();
      resolveReady();
    } catch (error) {
      if (closed || mine !== epoch) return;
      emit({ type: 'redis.sync_failed', reason: reasonOf(error) });
      retryTimer = setTimeout(() => void resync(), options.retryDelayMs);
      retryTimer.unref();
    }
  }

  // When the subscriber's connection opened (TCP), for the watchdog below: monotonic time,
  // not the injectable clock, since it measures a real connection.
  let connectedAtMs = performance.now();

  async function heartbeat(): Promise<void> {
    local.sweep(now());
    // ioredis bounds the TCP connect, not the ready check after it: a connection that a
    // balancer or a half-dead node accepted and never answers would wait for ever, and the
    // store with it. Past a command's deadline without `ready`, connect again.
    if (
      !healthy &&
      subscriber.status === 'connect' &&
      performance.now() - connectedAtMs > options.commandTimeoutMs
    ) {
      connectedAtMs = performance.now();
      subscriber.disconnect(true);
      return;
    }
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
    const target = decodeTarget(message);
    if (target !== undefined) announce(target);
  });
  subscriber.on('connect', () => {
    connectedAtMs = performance.now();
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
    get degraded() {
      return degraded;
    },
    failure() {
      return new RedisStoreError(closed ? 'ERR_REDIS_CLOSED' : 'ERR_REDIS_NOT_SYNCED');
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
      clearTimeout(refillTimer);
      echo?.resolve();
      rejectReady(new RedisStoreError('ERR_REDIS_CLOSED'));
      subscriber.disconnect();
    },
  };
}
