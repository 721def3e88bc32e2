/**
 * A bounded least-recently-used map. The guard keeps verified tokens in one, keyed by the
 * whole token string, so only the exact bytes that were verified can ever hit.
 *
 * @example
 * ```ts
 * const cache = createLruCache<string, number>(2);
 * cache.set('a', 1); cache.set('b', 2); cache.get('a'); cache.set('c', 3); // evicts 'b'
 * ```
 */
export interface LruCache<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  delete(key: K): void;
  clear(): void;
  readonly size: number;
}

/**
 * Creates an {@link LruCache} holding at most `maxEntries` entries.
 *
 * @example
 * ```ts
 * const verified = createLruCache<string, AuthContext>(options.cacheMaxEntries);
 * ```
 */
export function createLruCache<K, V>(maxEntries: number): LruCache<K, V> {
  // A Map iterates in insertion order: re-inserting on a hit keeps the oldest entry first.
  const map = new Map<K, V>();
  return {
    get(key) {
      const value = map.get(key);
      if (value !== undefined) {
        map.delete(key);
        map.set(key, value);
      }
      return value;
    },
    set(key, value) {
      map.delete(key);
      map.set(key, value);
      if (map.size > maxEntries) map.delete(map.keys().next().value as K);
    },
    delete: (key) => void map.delete(key),
    clear: () => map.clear(),
    get size() {
      return map.size;
    },
  };
}
