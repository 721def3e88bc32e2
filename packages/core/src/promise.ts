/**
 * Whether a value is a thenable. Key sources and stores may answer synchronously or with a
 * promise from any library; `instanceof Promise` would read another library's promise as a
 * plain answer.
 *
 * @example
 * ```ts
 * const revoked = store.isRevoked(claims);
 * return isPromiseLike(revoked) ? Promise.resolve(revoked).then(refuseIf) : refuseIf(revoked);
 * ```
 */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
