import type { ErrorCode } from './errors.js';

/** A token was accepted. Identifiers only; never the token or other claim values. */
export interface TokenAcceptedEvent {
  readonly type: 'token.accepted';
  readonly iss: string;
  readonly sub: string | undefined;
  readonly jti: string | undefined;
  readonly kid: string | undefined;
  readonly alg: string;
  /** Whether the verified-token cache answered (no signature check ran). */
  readonly cached: boolean;
}

/**
 * A request was refused. Identifiers come from the token as sent (possibly forged), are
 * present only when they are short strings, and are for correlation, not trust.
 */
export interface TokenRejectedEvent {
  readonly type: 'token.rejected';
  readonly code: ErrorCode;
  readonly iss?: string | undefined;
  readonly sub?: string | undefined;
  readonly jti?: string | undefined;
  readonly kid?: string | undefined;
  readonly alg?: string | undefined;
  /** The route requirement that failed (`scope`, `claim:tenant`, `audience`). */
  readonly requirement?: string | undefined;
}

/** A key set was fetched. */
export interface KeysRefreshedEvent {
  readonly type: 'keys.refreshed';
  readonly source: string;
  readonly keyCount: number;
}

/** Fetching a key set failed; the guard serves stale keys or answers 503. */
export interface KeysRefreshFailedEvent {
  readonly type: 'keys.refresh_failed';
  readonly source: string;
  readonly reason: string;
}

/** A published key was ignored (weak, private, wrong use, unknown algorithm). */
export interface KeySkippedEvent {
  readonly type: 'keys.key_skipped';
  readonly source: string;
  readonly kid: string | undefined;
  readonly reason: string;
}

/**
 * The token store failed. With `storeUnavailable: 'allow'` the request went on without the
 * revocation check (`allowed: true`); otherwise it was answered 503.
 */
export interface StoreUnavailableEvent {
  readonly type: 'store.unavailable';
  readonly allowed: boolean;
  /** The error's name or code, never its message (a store's message may quote a key). */
  readonly reason: string;
}

/**
 * Everything `onEvent` receives. Discriminated by `type`.
 *
 * @example
 * ```ts
 * createGuard({ issuer, audience, onEvent: (e) => e.type === 'token.rejected' && log.warn(e) });
 * ```
 */
export type GuardEvent =
  | TokenAcceptedEvent
  | TokenRejectedEvent
  | KeysRefreshedEvent
  | KeysRefreshFailedEvent
  | KeySkippedEvent
  | StoreUnavailableEvent;

/** Emits an event; never throws. */
export type EmitEvent = (event: GuardEvent) => void;

/** Wraps a user's listener so that its failures never change a request's outcome. */
export function createEmitter(listener: ((event: GuardEvent) => void) | undefined): EmitEvent {
  if (listener === undefined) return () => undefined;
  return (event) => {
    try {
      listener(event);
    } catch {
      // An audit hook that throws must not turn an accepted request into a 500.
    }
  };
}

const MAX_IDENTIFIER_LENGTH = 256;

/** A token-supplied identifier fit for an event: a short string, or nothing. */
export function identifier(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= MAX_IDENTIFIER_LENGTH ? value : undefined;
}
