import type { Claims } from '@jwt-guard/core';
import type { Revocation } from './keys.js';

/**
 * The in-process copy of the fleet's revocations, answering `isRevoked` without Redis.
 *
 * @example
 * ```ts
 * const local: LocalRevocations = createLocalRevocations(100_000);
 * const expiryMs = Date.now() + 60_000;
 * local.add({ kind: 'token', jti: 'a1', iss: undefined, expiryMs }, Date.now());
 * local.isRevoked({ iss: 'https://idp.example/', jti: 'a1' }, Date.now()); // true
 * ```
 */
export interface LocalRevocations {
  /**
   * Adds a revocation, keeping the stronger of two for one token or subject. `false` when
   * the set is full of live entries and could not take it.
   */
  add(revocation: Revocation, nowMs: number): boolean;
  /** Whether verified claims are revoked now. */
  isRevoked(claims: Readonly<Claims>, nowMs: number): boolean;
  /** Drops every entry that has expired. */
  sweep(nowMs: number): void;
  /** When the next entry expires (ms), `Infinity` when empty. */
  readonly soonestExpiryMs: number;
  /** Entries held (token and subject revocations). */
  readonly size: number;
}

// Revocations are keyed by issuer and identifier, like core's memory store: the same `sub`
// (or `jti`) at two issuers names two principals (or tokens); an issuer-less revocation
// covers every issuer.
const scopedKey = (id: string, iss: string | undefined): string => `${iss ?? ''}\u0000${id}`;

/**
 * A bounded revocation set with the policy of core's `createMemoryStore`: entries vanish as
 * the tokens they concern expire, and a live entry is never evicted (that would bring a
 * revoked token back). When the bound is reached and nothing has expired, `add` refuses.
 *
 * @example
 * ```ts
 * const local = createLocalRevocations(1);
 * const expiryMs = Date.now() + 60_000;
 * local.add({ kind: 'token', jti: 'a1', iss: undefined, expiryMs }, Date.now()); // true
 * local.add({ kind: 'token', jti: 'a2', iss: undefined, expiryMs }, Date.now()); // false: full
 * ```
 */
export function createLocalRevocations(maxEntries: number): LocalRevocations {
  // value: expiry in ms. `t:` and `s:` keys share one bound.
  const entries = new Map<string, number>();
  // value: issuedBefore in ms, for the `s:` keys; lives exactly as long as its entry.
  const subjects = new Map<string, number>();
  // The earliest expiry held: a sweep before then would find nothing to drop.
  let soonestMs = Infinity;

  function remove(key: string): void {
    entries.delete(key);
    if (key.startsWith('s:')) subjects.delete(key.slice(2));
  }

  function sweep(nowMs: number): void {
    if (nowMs < soonestMs) return;
    soonestMs = Infinity;
    for (const [key, expiry] of entries) {
      if (expiry <= nowMs) remove(key);
      else soonestMs = Math.min(soonestMs, expiry);
    }
  }

  function live(key: string, nowMs: number): boolean {
    const expiry = entries.get(key);
    if (expiry === undefined) return false;
    if (expiry > nowMs) return true;
    remove(key);
    return false;
  }

  return {
    add(revocation, nowMs) {
      if (revocation.expiryMs <= nowMs) return true;
      const id =
        revocation.kind === 'token'
          ? `t:${scopedKey(revocation.jti, revocation.iss)}`
          : `s:${scopedKey(revocation.sub, revocation.iss)}`;
      const known = entries.get(id);
      if (known === undefined && entries.size >= maxEntries) {
        sweep(nowMs);
        if (entries.size >= maxEntries) return false;
      }
      entries.set(id, Math.max(revocation.expiryMs, known ?? 0));
      soonestMs = Math.min(soonestMs, revocation.expiryMs);
      if (revocation.kind === 'subject') {
        const key = id.slice(2);
        subjects.set(key, Math.max(revocation.issuedBeforeMs, subjects.get(key) ?? -Infinity));
      }
      return true;
    },
    isRevoked(claims, nowMs) {
      if (
        typeof claims.jti === 'string' &&
        (live(`t:${scopedKey(claims.jti, undefined)}`, nowMs) ||
          live(`t:${scopedKey(claims.jti, claims.iss)}`, nowMs))
      ) {
        return true;
      }
      if (typeof claims.sub !== 'string' || subjects.size === 0) return false;
      // A token without `iat` cannot show it was issued after the revocation.
      const issuedMs = typeof claims.iat === 'number' ? claims.iat * 1000 : -Infinity;
      for (const key of [scopedKey(claims.sub, claims.iss), scopedKey(claims.sub, undefined)]) {
        const before = subjects.get(key);
        if (before !== undefined && live(`s:${key}`, nowMs) && issuedMs < before) return true;
      }
      return false;
    },
    sweep,
    get soonestExpiryMs() {
      return soonestMs;
    },
    get size() {
      return entries.size;
    },
  };
}
