import type { Algorithm } from '../algorithms.js';
import type { Clock } from '../clock.js';
import { JwtGuardError } from '../errors.js';
import type { EmitEvent } from '../events.js';
import { fetchJsonObject, type FetchLimits } from './http.js';
import { importJwk, type VerificationKey } from './key.js';
import { createKeySet, type KeySet, type KeySource } from './source.js';

/**
 * Freshness policy of a remote key set.
 *
 * @example
 * ```ts
 * const policy: JwksPolicy = {
 *   cacheMaxAgeSeconds: 600,
 *   cooldownSeconds: 30,
 *   staleIfErrorSeconds: 3600,
 * };
 * ```
 */
export interface JwksPolicy {
  /** Keys older than this are refreshed in the background. */
  readonly cacheMaxAgeSeconds: number;
  /** Unknown `kid` refetches at most once per cooldown: a flood of random kids costs one fetch. */
  readonly cooldownSeconds: number;
  /** While refreshes fail, keys this old are still served; older ones are dropped. */
  readonly staleIfErrorSeconds: number;
}

/**
 * Options of {@link createRemoteKeySource}.
 *
 * @example
 * ```ts
 * const options: RemoteKeySourceOptions = {
 *   locate: () => Promise.resolve('https://idp.example/jwks.json'),
 *   label: 'https://idp.example/jwks.json',
 *   allowed: ['RS256', 'ES256'],
 *   policy,
 *   limits,
 *   clock: systemClock,
 *   emit: createEmitter(onEvent),
 * };
 * ```
 */
export interface RemoteKeySourceOptions {
  /** Resolves the JWKS URL (fixed, or found by discovery); called before each fetch. */
  readonly locate: () => Promise<string>;
  /** Names the source in events (the configured URL or issuer), never a token value. */
  readonly label: string;
  readonly allowed: readonly Algorithm[];
  readonly policy: JwksPolicy;
  readonly limits: FetchLimits;
  readonly clock: Clock;
  readonly emit: EmitEvent;
}

// Published key sets stay small; a cap keeps a hostile or broken endpoint from filling memory.
const MAX_KEYS = 100;
// After a failed fetch with no keys held, the next fetch waits this long at most (or the
// cooldown, if shorter): an outage costs the issuer one fetch per interval, not one per request.
const MAX_RETRY_BACKOFF_SECONDS = 5;

/**
 * A key source over a remote JWKS: one fetch in flight at a time, refresh after max age,
 * cooldown on unknown `kid`, stale-if-error, and key objects kept across refreshes when the
 * JWK did not change (so cached verifications survive a routine refresh).
 *
 * @example
 * ```ts
 * const keys = createRemoteKeySource({
 *   locate: createJwksLocator(issuer, limits),
 *   label: issuer,
 *   allowed: ['RS256'],
 *   policy,
 *   limits,
 *   clock,
 *   emit,
 * });
 * await keys.hydrate();
 * ```
 */
export function createRemoteKeySource(options: RemoteKeySourceOptions): KeySource {
  const { policy, clock, emit } = options;
  let set: KeySet | undefined;
  let byJwk = new Map<string, VerificationKey>();
  let fetchedAtMs = -Infinity;
  let attemptedAtMs = -Infinity;
  let lastAttemptFailed = false;
  let inflight: Promise<void> | undefined;

  async function load(): Promise<void> {
    attemptedAtMs = clock.nowMs();
    try {
      const uri = await options.locate();
      const document = await fetchJsonObject(uri, options.limits);
      if (!Array.isArray(document.keys)) throw new Error('the document has no "keys" array');
      const next = new Map<string, VerificationKey>();
      for (const jwk of document.keys.slice(0, MAX_KEYS)) {
        const id = JSON.stringify(jwk);
        const known = byJwk.get(id) ?? next.get(id);
        if (known) {
          next.set(id, known);
          continue;
        }
        const imported = importJwk(jwk, options.allowed);
        if (imported.ok) next.set(id, imported.key);
        else {
          const kid = (jwk as { kid?: unknown }).kid;
          emit({
            type: 'keys.key_skipped',
            source: options.label,
            kid: typeof kid === 'string' ? kid : undefined,
            reason: imported.reason,
          });
        }
      }
      byJwk = next;
      set = createKeySet([...next.values()]);
      fetchedAtMs = clock.nowMs();
      lastAttemptFailed = false;
      emit({ type: 'keys.refreshed', source: options.label, keyCount: next.size });
    } catch (error) {
      lastAttemptFailed = true;
      // The back-off runs from the failure, not the start: an issuer that answers after the
      // timeout must not make every request of its outage wait the timeout again.
      attemptedAtMs = clock.nowMs();
      emit({
        type: 'keys.refresh_failed',
        source: options.label,
        reason: error instanceof Error ? error.message : 'unknown failure',
      });
      throw error;
    }
  }

  function refresh(): Promise<void> {
    inflight ??= load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  function unavailable(cause?: unknown): JwtGuardError {
    return new JwtGuardError('ERR_KEYS_UNAVAILABLE', { cause });
  }

  // The current set when it may still be used, else undefined. Past max age it stays in use
  // (stale-while-revalidate) while one refresh runs in the background, and past
  // stale-if-error it is dropped.
  function usableSet(): KeySet | undefined {
    const age = clock.nowMs() - fetchedAtMs;
    if (
      set === undefined ||
      age > (policy.cacheMaxAgeSeconds + policy.staleIfErrorSeconds) * 1000
    ) {
      return undefined;
    }
    if (age > policy.cacheMaxAgeSeconds * 1000 && inflight === undefined && !inCooldown()) {
      refresh().catch(() => undefined);
    }
    return set;
  }

  async function refreshOrFail(): Promise<KeySet> {
    try {
      await refresh();
    } catch (error) {
      throw unavailable(error);
    }
    return set as KeySet;
  }

  async function selectAfterMiss(
    current: KeySet | undefined,
    kid: string | undefined,
    algorithm: Algorithm,
  ): Promise<readonly VerificationKey[]> {
    if (
      current === undefined &&
      lastAttemptFailed &&
      (inflight !== undefined || inRetryBackoff())
    ) {
      // No keys and the issuer just failed us: answer at once instead of fetching again for
      // every request of an outage, or making each wait on the one retry in flight (a slow
      // issuer would hold every request for its timeout).
      throw unavailable();
    }
    if (current === undefined || inflight !== undefined || !inCooldown()) {
      const found = (await refreshOrFail()).candidates(kid, algorithm);
      if (found.length > 0) return found;
    } else if (lastAttemptFailed) {
      // The key may exist at an issuer we cannot reach: an outage, not a bad token.
      throw unavailable();
    }
    throw new JwtGuardError('ERR_KEY_NOT_FOUND');
  }

  function inCooldown(): boolean {
    return clock.nowMs() - attemptedAtMs < policy.cooldownSeconds * 1000;
  }

  function inRetryBackoff(): boolean {
    return (
      clock.nowMs() - attemptedAtMs <
      Math.min(policy.cooldownSeconds, MAX_RETRY_BACKOFF_SECONDS) * 1000
    );
  }

  return {
    select(kid, algorithm) {
      const current = usableSet();
      const found = current?.candidates(kid, algorithm);
      if (found === undefined || found.length === 0)
        return selectAfterMiss(current, kid, algorithm);
      // A kid that no key names, answered only by keys without a kid: the issuer may have
      // rotated to a key not fetched yet. Look, under the same cooldown as any unknown kid,
      // and keep the kid-less keys if the look finds nothing better or fails.
      // A fetch already on its way (a routine refresh, another request's look) is not waited
      // for: the kid-less keys answer meanwhile, and only the request that looks waits.
      if (kid === undefined || current?.names(kid) !== false) return found;
      if (inflight !== undefined || inCooldown()) return found;
      return refreshOrFail().then(
        (refreshed) => {
          const again = refreshed.candidates(kid, algorithm);
          return again.length > 0 ? again : found;
        },
        () => found,
      );
    },
    // Asked on every cache hit: a key set past stale-if-error takes its cached tokens with it,
    // and a set past max age starts its refresh even when only cached tokens arrive.
    has: (key) => usableSet()?.has(key) ?? false,
    async hydrate() {
      await refreshOrFail();
    },
  };
}
