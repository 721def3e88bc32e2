import type { Claims } from './claims.js';
import { systemClock, type Clock } from './clock.js';
import { ConfigurationError } from './errors.js';

/**
 * A moment: a NumericDate (seconds since the epoch, like `exp`) or a Date.
 *
 * @example
 * ```ts
 * await store.revokeToken({ jti: auth.claims.jti!, expiresAt: auth.claims.exp! });
 * await store.revokeSubject({ sub: 'alice', issuedBefore: new Date() });
 * ```
 */
export type Instant = number | Date;

/**
 * The state JWTs lack: revocations and one-time keys. The guard asks `isRevoked` on every
 * request, also when its verified-token cache answers. A store for a fleet shares this state
 * between API instances (`createRedisStore` in `@jwt-guard/redis`).
 *
 * @example
 * ```ts
 * const store = createMemoryStore();
 * await store.revokeToken({ jti: auth.claims.jti!, expiresAt: auth.claims.exp! });
 * ```
 */
export interface TokenStore {
  /**
   * Revokes one token by `jti` until it would have expired anyway: the token of issuer `iss`
   * when given (two issuers may use the same `jti`), else that `jti` at every issuer.
   */
  revokeToken(revocation: {
    readonly jti: string;
    readonly expiresAt: Instant;
    readonly iss?: string;
  }): Promise<void>;
  /** Revokes every token of a subject issued before a time (optionally of one issuer). */
  revokeSubject(revocation: {
    readonly sub: string;
    readonly issuedBefore: Instant;
    readonly iss?: string;
  }): Promise<void>;
  /** Whether a verified token was revoked. May answer synchronously. */
  isRevoked(claims: Readonly<Claims>): boolean | PromiseLike<boolean>;
  /** `true` the first time a key is presented before it expires, `false` after. Atomic. */
  consumeOnce(key: string, expiresAt: Instant): Promise<boolean>;
  /**
   * How long past `expiresAt` the store keeps an entry. The guard refuses at startup a store
   * that forgets sooner than the guard's own clock tolerance would still accept the token.
   */
  readonly clockToleranceSeconds?: number;
}

/**
 * Options of {@link createMemoryStore}.
 *
 * @example
 * ```ts
 * // For a guard with maxLifetimeSeconds: 3600 and clockToleranceSeconds: 30.
 * const options: MemoryStoreOptions = {
 *   subjectRevocationTtlSeconds: 3600,
 *   clockToleranceSeconds: 30,
 * };
 * ```
 */
export interface MemoryStoreOptions {
  /** Most entries kept (token revocations, subject revocations, one-time keys); default 100000. */
  readonly maxEntries?: number;
  /**
   * How long a subject revocation is kept after its `issuedBefore`: it must outlive every
   * token issued before it, so at least the guard's `maxLifetimeSeconds`; default 86400.
   */
  readonly subjectRevocationTtlSeconds?: number;
  /**
   * How long past `expiresAt` an entry is kept: the guard accepts a token until its `exp` plus
   * its own clock tolerance, so a revocation (or a one-time use) must outlive `exp` by as
   * much. Set it to the guard's `clockToleranceSeconds`; default 5, the guard's default.
   */
  readonly clockToleranceSeconds?: number;
  /** Time source; default the system clock. */
  readonly clock?: Clock;
}

// Runs a store operation so that a bad argument rejects like every other failure.
function settle<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * Converts an {@link Instant} to milliseconds since the epoch, for store implementations.
 *
 * @example
 * ```ts
 * instantMs(claims.exp!); // exp * 1000
 * ```
 */
export function instantMs(instant: Instant): number {
  return instant instanceof Date ? instant.getTime() : instant * 1000;
}

// Seconds past this (the year 5138) are almost surely milliseconds passed by mistake: such an
// entry would hold a slot of the bound for millennia.
const MAX_INSTANT_SECONDS = 1e11;

/**
 * Checks an {@link Instant} given to a store and converts it to milliseconds since the epoch;
 * throws a TypeError naming the argument for anything else. For store implementations.
 *
 * @example
 * ```ts
 * const expiryMs = checkInstant('expiresAt', revocation.expiresAt);
 * ```
 */
export function checkInstant(name: string, instant: unknown): number {
  const ms =
    instant instanceof Date
      ? instant.getTime()
      : typeof instant === 'number'
        ? instant * 1000
        : NaN;
  if (!Number.isFinite(ms)) {
    throw new TypeError(`"${name}" must be a NumericDate (seconds) or a Date`);
  }
  if (ms > MAX_INSTANT_SECONDS * 1000) {
    throw new TypeError(
      `"${name}" is too far in the future; pass seconds (like exp), not milliseconds`,
    );
  }
  return ms;
}

function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new TypeError(`"${name}" must be a non-empty string`);
  return value;
}

// Revocations are keyed by issuer and identifier: the same `sub` (or `jti`) at two issuers
// names two principals (or tokens). An issuer-less revocation applies at every issuer.
const scopedKey = (id: string, iss: string | undefined): string => `${iss ?? ''}\u0000${id}`;

/**
 * The embedded store, with its entry count for monitoring.
 *
 * @example
 * ```ts
 * const store: MemoryTokenStore = createMemoryStore();
 * setInterval(() => metrics.gauge('token_store.entries', store.size), 60_000);
 * ```
 */
export interface MemoryTokenStore extends TokenStore {
  /** Entries held now: revocations and one-time keys. */
  readonly size: number;
}

/** Entries that expire, bounded; full means refusing, never forgetting a live entry. */
interface ExpiringSet {
  /** Adds or extends an entry; throws a RangeError when full of live entries. */
  put(key: string, expiryMs: number, nowMs: number): void;
  /** Whether the entry is live; drops it if it expired. */
  has(key: string, nowMs: number): boolean;
  readonly size: number;
}

function createExpiringSet(maxEntries: number, onDrop: (key: string) => void): ExpiringSet {
  const entries = new Map<string, number>();
  // The earliest expiry held: a sweep before then would find nothing to drop.
  let soonestMs = Infinity;

  function drop(key: string): void {
    entries.delete(key);
    onDrop(key);
  }

  function sweep(nowMs: number): void {
    if (nowMs < soonestMs) return;
    soonestMs = Infinity;
    for (const [key, expiry] of entries) {
      if (expiry <= nowMs) drop(key);
      else soonestMs = Math.min(soonestMs, expiry);
    }
  }

  function room(nowMs: number): boolean {
    if (entries.size < maxEntries) return true;
    sweep(nowMs);
    return entries.size < maxEntries;
  }

  return {
    put(key, expiryMs, nowMs) {
      const known = entries.get(key);
      // Evicting a live revocation would bring a revoked token back: refuse instead, loudly.
      if (known === undefined && !room(nowMs)) {
        throw new RangeError(
          `the memory token store is full (${maxEntries} live entries); raise maxEntries or use a shared store`,
        );
      }
      entries.set(key, Math.max(expiryMs, known ?? 0));
      soonestMs = Math.min(soonestMs, expiryMs);
    },
    has(key, nowMs) {
      const expiry = entries.get(key);
      if (expiry === undefined) return false;
      if (expiry > nowMs) return true;
      drop(key);
      return false;
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * One-time keys, bounded without ever accepting a replay. Expired keys leave through a
 * min-heap of expiries, so no call scans the set. Past the bound, the key that expires
 * soonest is forgotten to make room for one that expires later, and from then on every key
 * that expires no later than the latest forgotten one is refused as possibly used (a replay
 * of a forgotten key always is). A flood of fresh keys (DPoP proofs of one client, say) thus
 * costs only keys older than the ones it pushed out, not a 503 for every client. A key that
 * would expire before everything held is refused (the store is full) rather than let it push
 * out a longer-lived key and raise that bar for everyone.
 */
function createOneTimeSet(maxEntries: number) {
  const entries = new Map<string, number>();
  // A min-heap of [expiry, key] over the entries; a pair whose entry is gone is stale and
  // skipped when it surfaces; the heap is rebuilt before it holds twice the bound.
  let heap: [number, string][] = [];
  let forgottenUntilMs = -Infinity;

  const expiryAt = (i: number): number => (heap[i] as [number, string])[0];

  function push(pair: [number, string]): void {
    let i = heap.push(pair) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (expiryAt(parent) <= pair[0]) break;
      heap[i] = heap[parent] as [number, string];
      i = parent;
    }
    heap[i] = pair;
  }

  function pop(): void {
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && expiryAt(right) < expiryAt(left) ? right : left;
      if (expiryAt(child) >= last[0]) break;
      heap[i] = heap[child] as [number, string];
      i = child;
    }
    heap[i] = last;
  }

  /** The live pair that expires soonest, after dropping what expired by `nowMs`. */
  function soonest(nowMs: number): [number, string] | undefined {
    for (let top = heap[0]; top !== undefined; top = heap[0]) {
      const [expiry, key] = top;
      if (entries.get(key) !== expiry) pop();
      else if (expiry <= nowMs) {
        entries.delete(key);
        pop();
      } else return top;
    }
    return undefined;
  }

  return {
    /**
     * `true` the first time `key` is consumed before `expiryMs`; `false` for a replay or a key
     * that cannot be told from one; throws a RangeError when full of keys that outlive it.
     */
    consume(key: string, expiryMs: number, nowMs: number): boolean {
      const oldest = soonest(nowMs);
      if (expiryMs <= nowMs || expiryMs <= forgottenUntilMs) return false;
      const held = entries.get(key);
      if (held !== undefined && held > nowMs) return false;
      if (held === undefined && entries.size >= maxEntries) {
        if (oldest === undefined || oldest[0] >= expiryMs) {
          throw new RangeError(
            `the memory token store is full (${maxEntries} live one-time keys); raise maxEntries or use a shared store`,
          );
        }
        entries.delete(oldest[1]);
        pop();
        forgottenUntilMs = Math.max(forgottenUntilMs, oldest[0]);
      }
      if (heap.length >= 2 * maxEntries) {
        heap = [];
        for (const [k, e] of entries) push([e, k]);
      }
      entries.set(key, expiryMs);
      push([expiryMs, key]);
      return true;
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * The embedded {@link TokenStore}: one process, bounded memory, entries dropped as the tokens
 * they concern expire. For several API instances use `createRedisStore`.
 *
 * Revocations and one-time keys are bounded separately (so a flood of one-time uses cannot
 * crowd out revocations). A live revocation is never evicted: when the bound is reached and
 * nothing has expired, revoking rejects with a RangeError. Past the bound of one-time keys the
 * one closest to its expiry is forgotten to hold one that expires later, and every key
 * expiring no later is refused from then on as possibly used (a replay is never accepted; the
 * guard answers 401 replayed to those); a key expiring before all held ones is refused with a
 * RangeError (503).
 *
 * @example
 * ```ts
 * const store = createMemoryStore({ maxEntries: 50_000 });
 * app.use(jwtGuard({ issuer, audience, store }));
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryTokenStore {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new ConfigurationError('createMemoryStore: "maxEntries" must be a positive integer');
  }
  const subjectTtlSeconds = options.subjectRevocationTtlSeconds ?? 86_400;
  if (
    typeof subjectTtlSeconds !== 'number' ||
    !Number.isFinite(subjectTtlSeconds) ||
    subjectTtlSeconds < 1
  ) {
    throw new ConfigurationError(
      'createMemoryStore: "subjectRevocationTtlSeconds" must be a number of seconds ≥ 1, at least the guard\'s maxLifetimeSeconds',
    );
  }
  const clockToleranceSeconds = options.clockToleranceSeconds ?? 5;
  if (
    typeof clockToleranceSeconds !== 'number' ||
    !Number.isFinite(clockToleranceSeconds) ||
    clockToleranceSeconds < 0
  ) {
    throw new ConfigurationError('createMemoryStore: "clockToleranceSeconds" must be a number ≥ 0');
  }
  const toleranceMs = clockToleranceSeconds * 1000;
  // A token issued just before `issuedBefore` is accepted until its exp plus the tolerance.
  const subjectTtlMs = subjectTtlSeconds * 1000 + toleranceMs;
  const clock = options.clock ?? systemClock;
  // subject key → issuedBefore (ms); lives exactly as long as its entry in `revocations`.
  const subjects = new Map<string, number>();
  const revocations = createExpiringSet(maxEntries, (key) => {
    if (key.startsWith('s:')) subjects.delete(key.slice(2));
  });
  const oneTime = createOneTimeSet(maxEntries);

  return {
    clockToleranceSeconds,
    revokeToken: ({ jti, expiresAt, iss }) =>
      settle(() => {
        const expiry = checkInstant('expiresAt', expiresAt) + toleranceMs;
        const key = `t:${scopedKey(checkString('jti', jti), iss === undefined ? undefined : checkString('iss', iss))}`;
        const now = clock.nowMs();
        if (expiry > now) revocations.put(key, expiry, now);
      }),
    revokeSubject: ({ sub, issuedBefore, iss }) =>
      settle(() => {
        const key = scopedKey(
          checkString('sub', sub),
          iss === undefined ? undefined : checkString('iss', iss),
        );
        const before = checkInstant('issuedBefore', issuedBefore);
        const now = clock.nowMs();
        // Tokens issued before `before` are all expired by then: nothing left to revoke.
        if (before + subjectTtlMs <= now) return;
        revocations.put(`s:${key}`, before + subjectTtlMs, now);
        subjects.set(key, Math.max(before, subjects.get(key) ?? -Infinity));
      }),
    isRevoked(claims) {
      const now = clock.nowMs();
      if (
        typeof claims.jti === 'string' &&
        (revocations.has(`t:${scopedKey(claims.jti, undefined)}`, now) ||
          revocations.has(`t:${scopedKey(claims.jti, claims.iss)}`, now))
      ) {
        return true;
      }
      if (typeof claims.sub !== 'string' || subjects.size === 0) return false;
      // A token without `iat` cannot show it was issued after the revocation.
      const issuedMs = typeof claims.iat === 'number' ? claims.iat * 1000 : -Infinity;
      for (const key of [scopedKey(claims.sub, claims.iss), scopedKey(claims.sub, undefined)]) {
        const before = subjects.get(key);
        if (before !== undefined && revocations.has(`s:${key}`, now) && issuedMs < before)
          return true;
      }
      return false;
    },
    consumeOnce: (key, expiresAt) =>
      settle(() => {
        const id = checkString('key', key);
        const expiry = checkInstant('expiresAt', expiresAt) + toleranceMs;
        // An expired key can no longer be used, not even once.
        return oneTime.consume(id, expiry, clock.nowMs());
      }),
    get size() {
      return revocations.size + oneTime.size;
    },
  };
}
