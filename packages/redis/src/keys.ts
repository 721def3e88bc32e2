import type { Cluster, Redis } from 'ioredis';

/**
 * An ioredis client the application owns: standalone, Sentinel-backed, or a Cluster.
 *
 * @example
 * ```ts
 * const client: RedisClient = new Cluster([{ host: 'redis-0', port: 6379 }]);
 * ```
 */
export type RedisClient = Redis | Cluster;

/**
 * What a revocation is about, without its lifetime: one key in Redis, one message.
 *
 * @example
 * ```ts
 * const target: RevocationTarget = { kind: 'subject', sub: 'alice', iss: 'https://idp.example/' };
 * keys.revocation(target); // 'jwt-guard:revoked:s:https%3A%2F%2Fidp.example%2F:alice'
 * ```
 */
export type RevocationTarget =
  | {
      readonly kind: 'token';
      readonly jti: string;
      /** `undefined`: that `jti` at every issuer. */
      readonly iss: string | undefined;
    }
  | {
      readonly kind: 'subject';
      readonly sub: string;
      /** `undefined`: the subject at every issuer. */
      readonly iss: string | undefined;
    };

/**
 * A revocation as the store keeps it, in milliseconds since the epoch.
 *
 * @example
 * ```ts
 * const revocation: Revocation = {
 *   kind: 'subject',
 *   sub: 'alice',
 *   iss: undefined,
 *   issuedBeforeMs: Date.now(),
 *   expiryMs: Date.now() + 86_400_000,
 * };
 * ```
 */
export type Revocation =
  | (Extract<RevocationTarget, { kind: 'token' }> & { readonly expiryMs: number })
  | (Extract<RevocationTarget, { kind: 'subject' }> & {
      readonly issuedBeforeMs: number;
      readonly expiryMs: number;
    });

/**
 * Key names of one store. Every command touches one key, so any key works on a Cluster.
 *
 * @example
 * ```ts
 * const keys: KeySpace = createKeySpace('jwt-guard:', '');
 * keys.once('payments:a1'); // 'jwt-guard:once:payments%3Aa1'
 * keys.targetOf('jwt-guard:revoked:t:a1'); // { kind: 'token', jti: 'a1', iss: undefined }
 * ```
 */
export interface KeySpace {
  /** The key holding a revocation, as the client names it. */
  revocation(target: RevocationTarget): string;
  /** The key of a one-time use. */
  once(key: string): string;
  /** The SCAN MATCH pattern of every revocation key, as the server stores it. */
  readonly scanPattern: string;
  /** What a scanned key (as the server stores it) revokes; `undefined` for a foreign key. */
  targetOf(storedKey: string): RevocationTarget | undefined;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Spells an identifier for a key: percent-encoded, so no `{`/`}` from a `jti` can form a
 * Cluster hash tag and no `:` can be mistaken for a separator, and the key stays readable in
 * redis-cli. Well-formed text is spelled as `encodeURIComponent` spells it, as before. A lone
 * UTF-16 surrogate (valid in JSON, so in a claim, but not encodable as UTF-8, so
 * `encodeURIComponent` throws on it) becomes `%uD800`, which no other text produces (`u` is no
 * hex digit): every string has exactly one spelling.
 *
 * @example
 * ```ts
 * encodeIdentifier('{tenant}:42'); // '%7Btenant%7D%3A42'
 * encodeIdentifier('a\uD800'); // 'a%uD800'
 * ```
 */
export function encodeIdentifier(id: string): string {
  if (!SURROGATE.test(id)) return encodeURIComponent(id);
  let spelled = '';
  // for…of walks code points: a surrogate pair comes as one, a lone surrogate alone.
  for (const char of id) {
    const unit = char.charCodeAt(0);
    spelled +=
      char.length === 1 && unit >= 0xd800 && unit <= 0xdfff
        ? `%u${unit.toString(16).toUpperCase()}`
        : encodeURIComponent(char);
  }
  return spelled;
}

/**
 * The identifier a key part spells; `undefined` unless it is the one spelling of one.
 *
 * @example
 * ```ts
 * decodeIdentifier('%7Btenant%7D%3A42'); // '{tenant}:42'
 * decodeIdentifier('%41'); // undefined: 'A' is spelled 'A'
 * ```
 */
export function decodeIdentifier(part: string): string | undefined {
  let id: string;
  try {
    id = part
      .split(/(%u[0-9A-F]{4})/)
      .map((piece, i) =>
        i % 2 === 1 ? String.fromCharCode(parseInt(piece.slice(2), 16)) : decodeURIComponent(piece),
      )
      .join('');
  } catch {
    return undefined;
  }
  // Another spelling of the same text (`%41` for `A`) is not a key this store writes.
  return id !== '' && encodeIdentifier(id) === part ? id : undefined;
}

// SCAN MATCH is a glob: a prefix such as `app[1]:` must match itself only.
const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * The value of a revocation key: `<rank> <expiry>`, both in ms. The rank orders two
 * revocations of one key (the later expiry of a token, the later `issuedBefore` of a subject)
 * so the write script keeps the stronger.
 *
 * @example
 * ```ts
 * revocationValue({ kind: 'token', jti: 'a1', iss: undefined, expiryMs: 1_900_000_000_000 });
 * // { rank: 1900000000000, value: '1900000000000 1900000000000' }
 * ```
 */
export function revocationValue(revocation: Revocation): { rank: number; value: string } {
  const rank = revocation.kind === 'token' ? revocation.expiryMs : revocation.issuedBeforeMs;
  return { rank, value: `${rank} ${revocation.expiryMs}` };
}

/**
 * Reads a key's value back; `undefined` for anything this store did not write.
 *
 * @example
 * ```ts
 * parseValue('1700000000000 1700086400000'); // { rank: 1700000000000, expiryMs: 1700086400000 }
 * parseValue('1'); // undefined
 * ```
 */
export function parseValue(value: string): { rank: number; expiryMs: number } | undefined {
  const parts = value.split(' ');
  if (parts.length !== 2) return undefined;
  const [rank, expiry] = parts.map(Number) as [number, number];
  if (!Number.isFinite(rank) || !Number.isFinite(expiry)) return undefined;
  return { rank, expiryMs: expiry };
}

/**
 * The revocation a key holds, from its value and its remaining time to live (PTTL): Redis
 * forgets the key then, so the local copy must too, whatever the value says. `undefined` when
 * the key is gone or its value is not one this store writes.
 *
 * @example
 * ```ts
 * const target: RevocationTarget = { kind: 'token', jti: 'a1', iss: undefined };
 * revocationOf(target, '1900000000000 1900000000000', 60_000, nowMs);
 * // { kind: 'token', jti: 'a1', iss: undefined, expiryMs: nowMs + 60_000 }: Redis's TTL wins
 * ```
 */
export function revocationOf(
  target: RevocationTarget,
  value: string | null,
  pttlMs: number,
  nowMs: number,
): Revocation | undefined {
  if (value === null || pttlMs === -2) return undefined;
  const parsed = parseValue(value);
  if (parsed === undefined) return undefined;
  // -1: no TTL (set by hand, PERSIST): Redis keeps it for good, and so does the local set.
  const expiryMs = pttlMs === -1 ? Infinity : nowMs + pttlMs;
  return target.kind === 'token'
    ? { ...target, expiryMs }
    : { ...target, issuedBeforeMs: parsed.rank, expiryMs };
}

/**
 * The key names under a prefix. `clientKeyPrefix` is the ioredis client's own `keyPrefix`,
 * which ioredis adds to keys but not to SCAN patterns nor strips from SCAN replies.
 *
 * Token revocations are `t:<jti>` (every issuer) or `t:<iss>:<jti>` (one issuer); subject
 * revocations `s:<iss>:<sub>`, with an empty `<iss>` for every issuer.
 *
 * @example
 * ```ts
 * const keys = createKeySpace('orders-api:', 'app:');
 * keys.revocation({ kind: 'subject', sub: 'alice', iss: undefined });
 * // 'orders-api:revoked:s::alice'
 * keys.scanPattern; // 'app:orders-api:revoked:*'
 * ```
 */
export function createKeySpace(prefix: string, clientKeyPrefix: string): KeySpace {
  const revoked = `${prefix}revoked:`;
  const stored = `${clientKeyPrefix}${revoked}`;
  return {
    revocation(t) {
      if (t.kind === 'subject') {
        return `${revoked}s:${encodeIdentifier(t.iss ?? '')}:${encodeIdentifier(t.sub)}`;
      }
      const jti = encodeIdentifier(t.jti);
      return t.iss === undefined
        ? `${revoked}t:${jti}`
        : `${revoked}t:${encodeIdentifier(t.iss)}:${jti}`;
    },
    once: (key) => `${prefix}once:${encodeIdentifier(key)}`,
    scanPattern: `${escapeGlob(stored)}*`,
    targetOf(storedKey) {
      if (!storedKey.startsWith(stored)) return undefined;
      const [kind, ...parts] = storedKey.slice(stored.length).split(':');
      if (kind === 't' && (parts.length === 1 || parts.length === 2)) {
        const jti = decodeIdentifier(parts.at(-1) as string);
        const iss = parts.length === 2 ? decodeIdentifier(parts[0] as string) : null;
        if (jti === undefined || iss === undefined) return undefined;
        return { kind: 'token', jti, iss: iss ?? undefined };
      }
      if (kind === 's' && parts.length === 2) {
        const sub = decodeIdentifier(parts[1] as string);
        // An empty issuer part is every issuer (decodeIdentifier refuses '').
        const iss = parts[0] === '' ? null : decodeIdentifier(parts[0] as string);
        if (sub === undefined || iss === undefined) return undefined;
        return { kind: 'subject', sub, iss: iss ?? undefined };
      }
      return undefined;
    },
  };
}
