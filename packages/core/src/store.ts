import type { Claims } from './claims.js';
import { systemClock, type Clock } from './clock.js';

/** A moment: a NumericDate (seconds since the epoch, like `exp`) or a Date. */
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
  /** Revokes one token by `jti` until it would have expired anyway. */
  revokeToken(revocation: { readonly jti: string; readonly expiresAt: Instant }): Promise<void>;
  /** Revokes every token of a subject issued before a time (optionally of one issuer). */
  revokeSubject(revocation: {
    readonly sub: string;
    readonly issuedBefore: Instant;
    readonly iss?: string;
  }): Promise<void>;
  /** Whether a verified token was revoked. May answer synchronously. */
  isRevoked(claims: Readonly<Claims>): boolean | Promise<boolean>;
  /** `true` the first time a key is presented before it expires, `false` after. Atomic. */
  consumeOnce(key: string, expiresAt: Instant): Promise<boolean>;
}

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Most entries kept (token revocations, subject revocations, one-time keys); default 100000. */
  readonly maxEntries?: number;
  /**
   * How long a subject revocation is kept after its `issuedBefore`: it must outlive every
   * token issued before it, so at least the guard's `maxLifetimeSeconds`; default 86400.
   */
  readonly subjectRevocationTtlSeconds?: number;
  /** Time source; default the system clock. */
  readonly clock?: Clock;
}

/** Converts an {@link Instant} to milliseconds since the epoch. */
export function instantMs(instant: Instant): number {
  return instant instanceof Date ? instant.getTime() : instant * 1000;
}

function checkInstant(name: string, instant: unknown): number {
  const ms =
    instant instanceof Date
      ? instant.getTime()
      : typeof instant === 'number'
        ? instant * 1000
        : NaN;
  if (!Number.isFinite(ms)) {
    throw new TypeError(`"${name}" must be a NumericDate (seconds) or a Date`);
  }
  return ms;
}

function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new TypeError(`"${name}" must be a non-empty string`);
  return value;
}

// Subject revocations are keyed by issuer and subject: the same `sub` at two issuers is two
// principals. An issuer-less revocation applies to the subject at every issuer.
const subjectKey = (sub: string, iss: string | undefined): string => `${iss ?? ''}\u0000${sub}`;

/**
 * The embedded {@link TokenStore}: one process, bounded memory, entries dropped as the tokens
 * they concern expire. For several API instances use `createRedisStore`.
 *
 * When the bound is reached, expired entries are swept first; if that is not enough, the
 * entries that expire soonest go first (the least remaining risk).
 *
 * @example
 * ```ts
 * const store = createMemoryStore({ maxEntries: 50_000 });
 * app.use(jwtGuard({ issuer, audience, store }));
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): TokenStore {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError('"maxEntries" must be a positive integer');
  }
  const subjectTtlMs = (options.subjectRevocationTtlSeconds ?? 86_400) * 1000;
  const clock = options.clock ?? systemClock;
  const now = (): number => clock.nowMs();
  // value: expiry in ms. Keys are prefixed so the three kinds share one bound.
  const entries = new Map<string, number>();
  // value: issuedBefore in ms, for subject keys.
  const subjects = new Map<string, number>();

  function sweep(at: number): void {
    for (const [key, expiry] of entries) {
      if (expiry <= at) remove(key);
    }
    if (entries.size < maxEntries) return;
    // Down to 90 % at once, so a full store sorts once per many insertions, not on each.
    const soonest = [...entries].sort((a, b) => a[1] - b[1]);
    for (const [key] of soonest.slice(0, entries.size - Math.floor(maxEntries * 0.9))) remove(key);
  }

  function remove(key: string): void {
    entries.delete(key);
    if (key.startsWith('s:')) subjects.delete(key.slice(2));
  }

  function put(key: string, expiry: number): void {
    const at = now();
    if (expiry <= at) return;
    if (!entries.has(key) && entries.size >= maxEntries) sweep(at);
    entries.set(key, Math.max(expiry, entries.get(key) ?? 0));
  }

  function live(key: string, at: number): boolean {
    const expiry = entries.get(key);
    if (expiry === undefined) return false;
    if (expiry > at) return true;
    remove(key);
    return false;
  }

  return {
    revokeToken({ jti, expiresAt }) {
      put(`t:${checkString('jti', jti)}`, checkInstant('expiresAt', expiresAt));
      return Promise.resolve();
    },
    revokeSubject({ sub, issuedBefore, iss }) {
      const key = subjectKey(
        checkString('sub', sub),
        iss === undefined ? undefined : checkString('iss', iss),
      );
      const before = checkInstant('issuedBefore', issuedBefore);
      subjects.set(key, Math.max(before, subjects.get(key) ?? -Infinity));
      put(`s:${key}`, before + subjectTtlMs);
      return Promise.resolve();
    },
    isRevoked(claims) {
      const at = now();
      if (typeof claims.jti === 'string' && live(`t:${claims.jti}`, at)) return true;
      if (typeof claims.sub !== 'string' || subjects.size === 0) return false;
      // A token without `iat` cannot show it was issued after the revocation.
      const issuedMs = typeof claims.iat === 'number' ? claims.iat * 1000 : -Infinity;
      for (const key of [subjectKey(claims.sub, claims.iss), subjectKey(claims.sub, undefined)]) {
        const before = subjects.get(key);
        if (before !== undefined && live(`s:${key}`, at) && issuedMs < before) return true;
      }
      return false;
    },
    consumeOnce(key, expiresAt) {
      const id = `o:${checkString('key', key)}`;
      const expiry = checkInstant('expiresAt', expiresAt);
      const at = now();
      // An expired key can no longer be used, not even once.
      if (expiry <= at || live(id, at)) return Promise.resolve(false);
      put(id, expiry);
      return Promise.resolve(true);
    },
  };
}
