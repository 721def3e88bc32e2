import type { ErrorCode } from './errors.js';

/**
 * A token was accepted. Identifiers only; never the token or other claim values.
 *
 * @example
 * ```ts
 * createGuard({ issuer, audience, onEvent: (e) => e.type === 'token.accepted' && audit.info(e) });
 * ```
 */
export interface TokenAcceptedEvent {
  readonly type: 'token.accepted';
  readonly iss: string;
  readonly sub: string | undefined;
  readonly jti: string | undefined;
  readonly kid: string | undefined;
  readonly alg: string;
  /** Whether the verified-token cache answered (no signature check ran). */
  readonly cached: boolean;
  /**
   * `'ignored'` when the token was verified as data with `verify(token, { senderConstraint:
   * 'ignore' })` (a revocation endpoint's target), so its binding was not checked; absent
   * when the token was accepted as a credential.
   */
  readonly senderConstraint?: 'ignored';
}

/**
 * A request was refused. Identifiers come from the token as sent (possibly forged), are
 * present only when they are short strings, and are for correlation, not trust.
 *
 * @example
 * ```ts
 * createGuard({
 *   issuer,
 *   audience,
 *   onEvent(event) {
 *     if (event.type === 'token.rejected') metrics.increment('rejected', { code: event.code });
 *   },
 * });
 * ```
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

/**
 * A key set was fetched.
 *
 * @example
 * ```ts
 * createGuard({
 *   issuer,
 *   audience,
 *   onEvent(event) {
 *     if (event.type === 'keys.refreshed') log.info(`${event.keyCount} keys from ${event.source}`);
 *   },
 * });
 * ```
 */
export interface KeysRefreshedEvent {
  readonly type: 'keys.refreshed';
  readonly source: string;
  readonly keyCount: number;
}

/**
 * Fetching a key set failed; the guard serves stale keys or answers 503.
 *
 * @example
 * ```ts
 * createGuard({
 *   issuer,
 *   audience,
 *   onEvent(event) {
 *     if (event.type === 'keys.refresh_failed') log.warn(`${event.source}: ${event.reason}`);
 *   },
 * });
 * ```
 */
export interface KeysRefreshFailedEvent {
  readonly type: 'keys.refresh_failed';
  readonly source: string;
  readonly reason: string;
}

/**
 * A published key was ignored (weak, private, wrong use, unknown algorithm).
 *
 * @example
 * ```ts
 * createGuard({
 *   issuer,
 *   audience,
 *   onEvent(event) {
 *     if (event.type === 'keys.key_skipped') log.warn(`${event.kid} skipped: ${event.reason}`);
 *   },
 * });
 * ```
 */
export interface KeySkippedEvent {
  readonly type: 'keys.key_skipped';
  readonly source: string;
  readonly kid: string | undefined;
  readonly reason: string;
}

/**
 * The token store failed. With `storeUnavailable: 'allow'` the request went on without the
 * revocation check (`allowed: true`); otherwise it was answered 503.
 *
 * @example
 * ```ts
 * createGuard({
 *   issuer,
 *   audience,
 *   onEvent(event) {
 *     if (event.type === 'store.unavailable' && event.allowed) alerts.page(event.reason);
 *   },
 * });
 * ```
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

/**
 * Emits an event; never throws.
 *
 * @example
 * ```ts
 * const emit: EmitEvent = createEmitter(options.onEvent);
 * emit({ type: 'keys.refreshed', source: jwksUri, keyCount: 2 });
 * ```
 */
export type EmitEvent = (event: GuardEvent) => void;

/**
 * Wraps a user's listener so that its failures never change a request's outcome.
 *
 * @example
 * ```ts
 * const emit = createEmitter(async (event) => auditSink.write(event));
 * emit({ type: 'store.unavailable', allowed: false, reason: 'ECONNREFUSED' }); // never throws
 * ```
 */
export function createEmitter(listener: ((event: GuardEvent) => unknown) | undefined): EmitEvent {
  if (listener === undefined) return () => undefined;
  const ignore = (): void => undefined;
  return (event) => {
    try {
      const result = listener(event) as PromiseLike<unknown> | undefined;
      // An async hook that rejects (its log sink is down) would be an unhandled rejection,
      // which ends a Node process: any garbage token could then take the server down.
      if (typeof result?.then === 'function') Promise.resolve(result).catch(ignore);
    } catch {
      // An audit hook that throws must not turn an accepted request into a 500.
    }
  };
}

const MAX_IDENTIFIER_LENGTH = 256;
// C0 and C1 controls, DEL, the Unicode line and paragraph separators and lone surrogates: what
// lets a forged identifier start a new log line, recolour a terminal or break a log encoder.
const UNSAFE_CHARACTERS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const escapeCharacter = (char: string): string =>
  `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * A token-supplied identifier fit for an event: a short string with control characters
 * escaped (`\u000a`), or nothing. Identifiers of refused tokens were never verified.
 *
 * @example
 * ```ts
 * identifier('user\nFAKE LOG LINE'); // 'user\\u000aFAKE LOG LINE'
 * ```
 */
export function identifier(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_IDENTIFIER_LENGTH) return undefined;
  return value.replace(UNSAFE_CHARACTERS, escapeCharacter);
}
