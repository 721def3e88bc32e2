import { createHash, timingSafeEqual } from 'node:crypto';
import { SIGNING_ALGORITHMS, type DevSigningAlgorithm } from './keys.js';

/**
 * A confidential OAuth 2.0 client the dev issuer knows, with the scopes it may be granted.
 *
 * @example
 * ```ts
 * const client: DevClient = {
 *   clientId: 'reports',
 *   clientSecret: 'reports-dev-secret',
 *   scopes: ['reports:read'],
 *   alg: 'RS256',
 * };
 * ```
 */
export interface DevClient {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Every scope the client may ask for; a request without `scope` is granted all of them. */
  readonly scopes: readonly string[];
  /** The algorithm its tokens are signed with; default `ES256`. */
  readonly alg?: DevSigningAlgorithm;
  /** Overrides the issuer's token lifetime for this client. */
  readonly tokenLifetimeSeconds?: number;
  /**
   * Moves `iat` (and with it `exp`) this many seconds into the past. Only so that a demo can
   * show an expired token without waiting for one to expire.
   */
  readonly backdateSeconds?: number;
  /** One line for the README table and the CLI banner. */
  readonly description?: string;
}

/**
 * The demo clients the issuer starts with when none are given. The secrets are fixed, public
 * demo strings (they are printed in the README): never reuse them anywhere real.
 *
 * @example
 * ```ts
 * const issuer = await createDevIssuer({ clients: [...DEFAULT_DEV_CLIENTS, myClient] });
 * ```
 */
export const DEFAULT_DEV_CLIENTS: readonly DevClient[] = freezeClients([
  {
    clientId: 'catalog-reader',
    clientSecret: 'catalog-reader-dev-secret',
    scopes: ['orders:read'],
    description: 'reads orders',
  },
  {
    clientId: 'order-writer',
    clientSecret: 'order-writer-dev-secret',
    scopes: ['orders:read', 'orders:write'],
    description: 'reads and writes orders',
  },
  {
    clientId: 'admin-console',
    clientSecret: 'admin-console-dev-secret',
    scopes: ['orders:read', 'orders:write', 'admin'],
    description: 'everything, including admin routes',
  },
  {
    clientId: 'rsa-client',
    clientSecret: 'rsa-client-dev-secret',
    scopes: ['orders:read'],
    alg: 'RS256',
    description: 'reads orders with RS256-signed tokens',
  },
  {
    clientId: 'expired-demo',
    clientSecret: 'expired-demo-dev-secret',
    scopes: ['orders:read'],
    // Twice the default lifetime: the token expired well outside any verifier's clock tolerance.
    backdateSeconds: 1800,
    description: 'gets tokens that are already expired',
  },
]);

/**
 * The issuer's clients, looked up by id, with constant-time secret checks.
 *
 * @example
 * ```ts
 * const registry = createClientRegistry(DEFAULT_DEV_CLIENTS);
 * const client = registry.authenticate('catalog-reader', 'catalog-reader-dev-secret');
 * ```
 */
export interface ClientRegistry {
  readonly clients: readonly DevClient[];
  find(clientId: string): DevClient | undefined;
  /** The client when the secret matches, otherwise `undefined` (unknown id or wrong secret). */
  authenticate(clientId: string, clientSecret: string): DevClient | undefined;
}

/**
 * Validates the clients once and indexes them by id.
 *
 * @example
 * ```ts
 * const registry = createClientRegistry([{ clientId: 'a', clientSecret: 's', scopes: ['read'] }]);
 * registry.find('a')?.scopes; // ['read']
 * ```
 */
export function createClientRegistry(clients: readonly DevClient[]): ClientRegistry {
  const frozen = Object.freeze(clients.map((client, index) => validateClient(client, index)));
  const byId = new Map<string, { client: DevClient; secretHash: Buffer }>();
  for (const [index, client] of frozen.entries()) {
    if (byId.has(client.clientId)) {
      throw new TypeError(`"clients[${index}].clientId" repeats an earlier client's id`);
    }
    byId.set(client.clientId, { client, secretHash: hash(client.clientSecret) });
  }
  // Compared against when the id is unknown, so both failures take the same work.
  const absent = hash('');

  return {
    clients: frozen,
    find: (clientId) => byId.get(clientId)?.client,
    authenticate(clientId, clientSecret) {
      const entry = byId.get(clientId);
      // Hashing first gives timingSafeEqual equal-length inputs, so neither the secret's
      // content nor its length shows in the response time.
      const matches = timingSafeEqual(hash(clientSecret), entry?.secretHash ?? absent);
      return entry !== undefined && matches ? entry.client : undefined;
    },
  };
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Whether a string is one RFC 6749 §3.3 scope token (printable ASCII, no space, `"` or `\`).
 *
 * @example
 * ```ts
 * isScopeToken('orders:read'); // true
 * isScopeToken('orders read'); // false
 * ```
 */
export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

function validateClient(client: DevClient, index: number): DevClient {
  const at = `clients[${index}]`;
  if (typeof client.clientId !== 'string' || client.clientId === '') {
    throw new TypeError(`"${at}.clientId" must be a non-empty string`);
  }
  if (typeof client.clientSecret !== 'string' || client.clientSecret === '') {
    throw new TypeError(`"${at}.clientSecret" must be a non-empty string`);
  }
  // Typed callers cannot get these wrong, but JavaScript callers and JSON-loaded lists can.
  const scopes: unknown = client.scopes;
  if (
    !Array.isArray(scopes) ||
    !scopes.every((scope: unknown) => typeof scope === 'string' && isScopeToken(scope))
  ) {
    throw new TypeError(`"${at}.scopes" must be a list of RFC 6749 scope tokens`);
  }
  if (client.alg !== undefined && !SIGNING_ALGORITHMS.includes(client.alg)) {
    throw new TypeError(`"${at}.alg" must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  if (
    client.tokenLifetimeSeconds !== undefined &&
    !isPositiveInteger(client.tokenLifetimeSeconds)
  ) {
    throw new TypeError(`"${at}.tokenLifetimeSeconds" must be a positive integer`);
  }
  if (
    client.backdateSeconds !== undefined &&
    !(Number.isSafeInteger(client.backdateSeconds) && client.backdateSeconds >= 0)
  ) {
    throw new TypeError(`"${at}.backdateSeconds" must be a non-negative integer`);
  }
  return Object.freeze({ ...client, scopes: Object.freeze([...new Set(client.scopes)]) });
}

/**
 * Whether a value is a safe integer above zero.
 *
 * @example
 * ```ts
 * isPositiveInteger(900); // true
 * ```
 */
export function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function freezeClients(clients: readonly DevClient[]): readonly DevClient[] {
  return Object.freeze(
    clients.map((client) =>
      Object.freeze({ ...client, scopes: Object.freeze([...client.scopes]) }),
    ),
  );
}

function hash(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
