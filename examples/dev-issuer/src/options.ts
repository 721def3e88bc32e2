import { DEFAULT_DEV_CLIENTS, isPositiveInteger, type DevClient } from './clients.js';

/**
 * Options of `createDevIssuer()`; every one has a default.
 *
 * @example
 * ```ts
 * const options: DevIssuerOptions = { port: 4000, audience: 'https://orders.example/' };
 * ```
 */
export interface DevIssuerOptions {
  /** TCP port; default 0 (any free port, read it back from `DevIssuer.url`). */
  readonly port?: number;
  /** Interface to listen on; default `127.0.0.1`, so nothing outside the machine reaches it. */
  readonly host?: string;
  /**
   * The `iss` of every token and the base of the advertised endpoints; default the listening
   * URL. Set it when the issuer is reached through another name (a container, a proxy).
   */
  readonly issuerUrl?: string;
  /** Default {@link DEFAULT_DEV_CLIENTS}. */
  readonly clients?: readonly DevClient[];
  /** Default 900 (15 minutes). */
  readonly tokenLifetimeSeconds?: number;
  /** The `aud` of tokens, and the RFC 8707 resources clients may ask for; default `https://api.example/`. */
  readonly audience?: string | readonly string[];
}

/**
 * Options with every default applied, checked once.
 *
 * @example
 * ```ts
 * const { port, host } = resolveOptions({});
 * ```
 */
export interface ResolvedOptions {
  readonly port: number;
  readonly host: string;
  readonly issuerUrl: string | undefined;
  readonly clients: readonly DevClient[];
  readonly tokenLifetimeSeconds: number;
  readonly audience: string | readonly string[];
}

/**
 * The audience tokens carry when none is configured.
 *
 * @example
 * ```ts
 * createGuard({ issuer: devIssuer.issuer, audience: DEFAULT_AUDIENCE });
 * ```
 */
export const DEFAULT_AUDIENCE = 'https://api.example/';

/**
 * Applies the defaults and rejects invalid options with a message naming the option.
 *
 * @example
 * ```ts
 * resolveOptions({ port: -1 }); // throws TypeError: "port" must be an integer from 0 to 65535
 * ```
 */
export function resolveOptions(options: DevIssuerOptions): ResolvedOptions {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError('"port" must be an integer from 0 to 65535');
  }
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') {
    throw new TypeError('"host" must be a non-empty string');
  }
  if (options.issuerUrl !== undefined && !isIssuerUrl(options.issuerUrl)) {
    throw new TypeError('"issuerUrl" must be an http or https URL without query or fragment');
  }
  const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 900;
  if (!isPositiveInteger(tokenLifetimeSeconds)) {
    throw new TypeError('"tokenLifetimeSeconds" must be a positive integer');
  }
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const audiences: unknown = typeof audience === 'string' ? [audience] : audience;
  if (
    !Array.isArray(audiences) ||
    audiences.length === 0 ||
    !audiences.every((value: unknown) => typeof value === 'string' && value !== '')
  ) {
    throw new TypeError('"audience" must be a non-empty string or a non-empty list of them');
  }
  const clients = options.clients ?? DEFAULT_DEV_CLIENTS;
  if (!Array.isArray(clients)) throw new TypeError('"clients" must be a list');

  return {
    port,
    host,
    issuerUrl: options.issuerUrl,
    clients,
    tokenLifetimeSeconds,
    audience: typeof audience === 'string' ? audience : Object.freeze([...audience]),
  };
}

// RFC 8414 §2: the issuer is an https URL with no query or fragment (http is allowed here,
// since the issuer only ever runs on a developer's machine or in a test).
function isIssuerUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.search === '' &&
    url.hash === '' &&
    !value.includes('?') &&
    !value.includes('#')
  );
}
