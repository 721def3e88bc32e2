/**
 * Whether a value is a thenable. Key sources and stores may answer synchronously or with a
 * promise from any library; `instanceof Promise` would read another library's promise as a
 * plain answer.
 */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
