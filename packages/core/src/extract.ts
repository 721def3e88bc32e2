import { isPotentiallyTrustworthy } from './keys/http.js';
import { JwtGuardError } from './errors.js';
import { headerValues, type GuardRequest } from './request.js';

/**
 * Where a token may be sent. Only `header` is on by default (RFC 6750 §2.1).
 *
 * @example
 * ```ts
 * const tokenLocations: TokenLocation[] = ['header', 'cookie'];
 * createGuard({ issuer, audience, tokenLocations, cookie: { name: 'access_token' } });
 * ```
 */
export type TokenLocation = 'header' | 'cookie' | 'query';

/**
 * Resolved extraction rules.
 *
 * @example
 * ```ts
 * const policy: ExtractionPolicy = {
 *   header: true,
 *   query: false,
 *   cookie: { name: 'access_token', allowedOrigins: new Set(['https://app.example']) },
 *   maxTokenBytes: 8192,
 * };
 * const token = extractToken({ method: 'GET', url: '/', headers: req.rawHeaders }, policy);
 * ```
 */
export interface ExtractionPolicy {
  readonly header: boolean;
  readonly query: boolean;
  readonly cookie:
    { readonly name: string; readonly allowedOrigins: ReadonlySet<string> } | undefined;
  readonly maxTokenBytes: number;
  /** Whether `Authorization: DPoP <token>` (RFC 9449 §7.1) is read; only when DPoP is configured. */
  readonly dpop?: boolean;
}

/**
 * How a token was presented: `DPoP` (RFC 9449 §7.1, a proof must come with it) or `Bearer`
 * (RFC 6750: header, cookie or query — possession alone).
 *
 * @example
 * ```ts
 * const scheme: PresentationScheme = extractCredentials(request, policy).scheme;
 * await checkSender(request, auth, scheme); // a DPoP presentation needs its proof
 * ```
 */
export type PresentationScheme = 'Bearer' | 'DPoP';

/**
 * The request's one access token and the scheme it came with.
 *
 * @example
 * ```ts
 * const { token, scheme }: Credentials = extractCredentials(request, policy);
 * // { token: 'eyJ…', scheme: 'DPoP' } for `Authorization: DPoP eyJ…` under `policy.dpop`
 * ```
 */
export interface Credentials {
  readonly token: string;
  readonly scheme: PresentationScheme;
}

// RFC 6750 §2.1 b64token.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const FIELD_WHITESPACE = /^[\t ]+|[\t ]+$/g;
const LEADING_SPACES = /^ +/;
// A scheme we read, run into its credentials by something other than a token character (or
// preceded by whitespace that is not the field's own, which trim() would remove).
const OUR_SCHEME_MISJOINED = /^(?:bearer|dpop)[^!#$%&'*+.^_`|~0-9a-z-]/i;
const LEADING_NON_FIELD_WHITESPACE = /^[\s\ufeff]+/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function fromAuthorization(
  request: GuardRequest,
  maxBytes: number,
  dpop: boolean,
): Credentials | undefined {
  const values = headerValues(request.headers, 'authorization');
  if (values.length === 0) return undefined;
  // Two headers may be read differently by a proxy and by us: refuse instead of guessing.
  if (values.length > 1) throw new JwtGuardError('ERR_MULTIPLE_AUTHORIZATION');
  // RFC 9110 §11.4: `auth-scheme [ 1*SP token68 ]`, with only the field's own whitespace
  // (SP, HTAB) around it. JavaScript's trim() also eats NBSP and BOM, which a proxy that
  // follows the grammar would not: two readings of one header are refused, never guessed.
  const value = (values[0] as string).replace(FIELD_WHITESPACE, '');
  const space = value.indexOf(' ');
  const scheme = space === -1 ? value : value.slice(0, space);
  // RFC 9110 §11.1: the scheme is case-insensitive. Another scheme (Basic, or DPoP when DPoP
  // is not configured) is no credential of ours at all, answered like a missing one.
  const lower = scheme.toLowerCase();
  const kind: PresentationScheme | undefined =
    lower === 'bearer' ? 'Bearer' : lower === 'dpop' && dpop ? 'DPoP' : undefined;
  if (kind === undefined) {
    // `Bearer<TAB>token`, `Bearer<NBSP>token`: our scheme with a separator the grammar does
    // not allow is a malformed credential, not an anonymous request.
    const loose = value.replace(LEADING_NON_FIELD_WHITESPACE, '');
    if (OUR_SCHEME_MISJOINED.test(loose) && (dpop || !/^dpop/i.test(loose))) {
      throw new JwtGuardError('ERR_AUTHORIZATION_MALFORMED');
    }
    return undefined;
  }
  const credentials = space === -1 ? '' : value.slice(space + 1).replace(LEADING_SPACES, '');
  if (credentials.length > maxBytes) throw new JwtGuardError('ERR_TOKEN_TOO_LARGE');
  if (!B64TOKEN.test(credentials)) throw new JwtGuardError('ERR_AUTHORIZATION_MALFORMED');
  return { token: credentials, scheme: kind };
}

function fromQuery(request: GuardRequest): string | undefined {
  const mark = request.url.indexOf('?');
  if (mark === -1) return undefined;
  const values = new URLSearchParams(request.url.slice(mark + 1)).getAll('access_token');
  if (values.length > 1) throw new JwtGuardError('ERR_MULTIPLE_TOKENS');
  return values[0];
}

function cookieValues(request: GuardRequest, name: string): string[] {
  if (request.cookies !== undefined) {
    const value = request.cookies[name];
    return value === undefined ? [] : [value];
  }
  const values: string[] = [];
  for (const header of headerValues(request.headers, 'cookie')) {
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=');
      if (eq !== -1 && pair.slice(0, eq).trim() === name) values.push(pair.slice(eq + 1).trim());
    }
  }
  return values;
}

// A browser attaches cookies to cross-site requests; for an unsafe method the request must
// prove it comes from our own pages (OWASP CSRF cheat sheet: Fetch Metadata, then Origin).
function checkSameOrigin(request: GuardRequest, allowedOrigins: ReadonlySet<string>): void {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return;
  const sites = headerValues(request.headers, 'sec-fetch-site');
  if (sites.length === 1 && sites[0] === 'same-origin') return;
  const origins = headerValues(request.headers, 'origin');
  const origin = origins.length === 1 ? (origins[0] as string) : undefined;
  // A configured origin (the app's own front end on another host) passes whatever the
  // browser calls the relation.
  if (origin !== undefined && allowedOrigins.has(origin)) return;
  // A browser that sends Fetch Metadata has said what the request is; `cross-site`, or
  // `same-site` from a sibling subdomain, is not overruled by an Origin matching Host.
  if (sites.length === 0 && origin !== undefined && origin !== 'null') {
    const hosts = headerValues(request.headers, 'host');
    try {
      // RFC 9110 §4.2.3: host names compare case-insensitively. The request's own scheme is
      // not known here (TLS may end at a proxy), so the page's must be trustworthy: a network
      // attacker can serve http://api.example/ and make it post to https://api.example/.
      const url = new URL(origin);
      if (
        hosts.length === 1 &&
        url.host === (hosts[0] as string).toLowerCase() &&
        isPotentiallyTrustworthy(url)
      ) {
        return;
      }
    } catch {
      // An unparsable Origin is no proof.
    }
  }
  throw new JwtGuardError('ERR_CROSS_SITE_REQUEST');
}

function fromCookie(
  request: GuardRequest,
  policy: NonNullable<ExtractionPolicy['cookie']>,
): string | undefined {
  const values = cookieValues(request, policy.name);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new JwtGuardError('ERR_MULTIPLE_TOKENS');
  checkSameOrigin(request, policy.allowedOrigins);
  return values[0];
}

/**
 * Finds the one access token of a request and how it was presented. No token → 401 without
 * an error attribute; a token sent twice or by two methods → 400 `invalid_request` (RFC 6750
 * §2: a client must use only one method).
 *
 * @example
 * ```ts
 * const { token, scheme } = extractCredentials({ method: 'GET', url: '/', headers: ['Authorization', 'DPoP eyJ…'] }, policy);
 * ```
 */
export function extractCredentials(request: GuardRequest, policy: ExtractionPolicy): Credentials {
  const found: Credentials[] = [];
  if (policy.header) {
    const credentials = fromAuthorization(request, policy.maxTokenBytes, policy.dpop === true);
    if (credentials !== undefined) found.push(credentials);
  }
  if (policy.query) {
    const token = fromQuery(request);
    if (token !== undefined) found.push({ token, scheme: 'Bearer' });
  }
  if (policy.cookie !== undefined) {
    const token = fromCookie(request, policy.cookie);
    if (token !== undefined) found.push({ token, scheme: 'Bearer' });
  }
  if (found.length > 1) throw new JwtGuardError('ERR_MULTIPLE_TOKENS');
  const credentials = found[0];
  if (credentials === undefined || credentials.token === '') {
    throw new JwtGuardError('ERR_TOKEN_MISSING');
  }
  return credentials;
}

/**
 * Finds the one access token of a request (see {@link extractCredentials}).
 *
 * @example
 * ```ts
 * const token = extractToken({ method: 'GET', url: '/', headers: ['Authorization', 'Bearer eyJ…'] }, policy);
 * ```
 */
export function extractToken(request: GuardRequest, policy: ExtractionPolicy): string {
  return extractCredentials(request, policy).token;
}
