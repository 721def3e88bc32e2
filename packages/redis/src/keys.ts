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

/** A revocation as the store keeps it, in milliseconds since the epoch. */
export type Revocation =
  | { readonly kind: 'token'; readonly jti: string; readonly expiryMs: number }
  | {
      readonly kind: 'subject';
      readonly sub: string;
      /** `undefined`: the subject at every issuer. */
      readonly iss: string | undefined;
      readonly issuedBeforeMs: number;
      readonly expiryMs: number;
    };

/** Key names of one store. Every command touches one key, so any key works on a Cluster. */
export interface KeySpace {
  /** The key holding a revocation. */
  revocation(revocation: Revocation): string;
  /** The key of a one-time use. */
  once(key: string): string;
  /** The SCAN MATCH pattern of every revocation key, as the server stores it. */
  readonly scanPattern: string;
  /** Reads back a revocation from a scanned key (as the server stores it) and its value. */
  parse(storedKey: string, value: string): Revocation | undefined;
  /** A scanned key as the client names it (without the client's own `keyPrefix`). */
  clientKey(storedKey: string): string;
}

// Identifiers are percent-encoded: no `{`/`}` from a `jti` can form a Cluster hash tag, no `:`
// can be mistaken for a separator, and the key stays readable in redis-cli.
const encode = encodeURIComponent;

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

// SCAN MATCH is a glob: a prefix such as `app[1]:` must match itself only.
const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * The value of a revocation key: `<rank> <expiry>`, both in ms. The rank orders two
 * revocations of one key (the later expiry of a token, the later `issuedBefore` of a subject)
 * so the write script keeps the stronger.
 */
export function revocationValue(revocation: Revocation): { rank: number; value: string } {
  const rank = revocation.kind === 'token' ? revocation.expiryMs : revocation.issuedBeforeMs;
  return { rank, value: `${rank} ${revocation.expiryMs}` };
}

function parseValue(value: string): { rank: number; expiryMs: number } | undefined {
  const [rank, expiry] = value.split(' ').map(Number);
  if (!Number.isFinite(rank) || !Number.isFinite(expiry)) return undefined;
  return { rank: rank as number, expiryMs: expiry as number };
}

/**
 * The key names under a prefix. `clientKeyPrefix` is the ioredis client's own `keyPrefix`,
 * which ioredis adds to keys but not to SCAN patterns nor strips from SCAN replies.
 */
export function createKeySpace(prefix: string, clientKeyPrefix: string): KeySpace {
  const revoked = `${prefix}revoked:`;
  const stored = `${clientKeyPrefix}${revoked}`;
  return {
    revocation: (r) =>
      r.kind === 'token'
        ? `${revoked}t:${encode(r.jti)}`
        : `${revoked}s:${encode(r.iss ?? '')}:${encode(r.sub)}`,
    once: (key) => `${prefix}once:${encode(key)}`,
    scanPattern: `${escapeGlob(stored)}*`,
    clientKey: (storedKey) => storedKey.slice(clientKeyPrefix.length),
    parse(storedKey, value) {
      if (!storedKey.startsWith(stored)) return undefined;
      const parsed = parseValue(value);
      if (parsed === undefined) return undefined;
      const [kind, ...parts] = storedKey.slice(stored.length).split(':');
      if (kind === 't' && parts.length === 1) {
        const jti = decode(parts[0] as string);
        return jti ? { kind: 'token', jti, expiryMs: parsed.expiryMs } : undefined;
      }
      if (kind === 's' && parts.length === 2) {
        const iss = decode(parts[0] as string);
        const sub = decode(parts[1] as string);
        if (iss === undefined || !sub) return undefined;
        return {
          kind: 'subject',
          sub,
          iss: iss === '' ? undefined : iss,
          issuedBeforeMs: parsed.rank,
          expiryMs: parsed.expiryMs,
        };
      }
      return undefined;
    },
  };
}
