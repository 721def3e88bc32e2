/**
 * What a listener has received so far, and a way to wait for what comes next.
 *
 * @example
 * ```ts
 * const recorder: EventRecorder<GuardEvent> = createEventRecorder();
 * expect(recorder.ofType('token.rejected').map((e) => e.code)).toEqual(['ERR_TOKEN_EXPIRED']);
 * ```
 */
export interface EventRecorder<E extends { readonly type: string }> {
  readonly events: E[];
  /** Pass this as the listener (e.g. a guard's `onEvent`). */
  readonly listener: (event: E) => void;
  /** The events of one type received so far. */
  ofType<T extends E['type']>(type: T): Extract<E, { type: T }>[];
  /** Resolves with the next event of this type received after the call. */
  next<T extends E['type']>(type: T): Promise<Extract<E, { type: T }>>;
}

/**
 * Records events from a listener callback, for tests that wait on background work (a key
 * refresh) by its event rather than by a timer.
 *
 * @example
 * ```ts
 * const recorder = createEventRecorder<GuardEvent>();
 * const guard = createGuard({ issuer, audience, onEvent: recorder.listener });
 * const refreshed = recorder.next('keys.refreshed');
 * ```
 */
export function createEventRecorder<E extends { readonly type: string }>(): EventRecorder<E> {
  const events: E[] = [];
  const waiting: { type: string; resolve: (event: E) => void }[] = [];
  return {
    events,
    listener(event) {
      events.push(event);
      for (const waiter of waiting.filter((w) => w.type === event.type)) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    },
    ofType: <T extends E['type']>(type: T) =>
      events.filter((event): event is Extract<E, { type: T }> => event.type === type),
    next: <T extends E['type']>(type: T) =>
      new Promise<Extract<E, { type: T }>>((resolve) => {
        waiting.push({ type, resolve: resolve as (event: E) => void });
      }),
  };
}
