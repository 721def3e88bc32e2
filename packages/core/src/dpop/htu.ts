import { headerValues, type GuardRequest } from '../request.js';

// RFC 3986 §2.3 unreserved characters: their percent-encodings mean the character itself.
const UNRESERVED = /[A-Za-z0-9\-._~]/;

function normalizePercentEncoding(path: string): string {
  return path.replace(/%[0-9a-fA-F]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16));
    return UNRESERVED.test(char) ? char : escape.toUpperCase();
  });
}

/**
 * An http(s) URI without query and fragment, normalised as RFC 9449 §4.3 asks (RFC 3986
 * §6.2.2 syntax-based and §6.2.3 scheme-based: case of scheme and host, default port, dot
 * segments, percent-encoding). `undefined` when it is not an absolute http(s) URI.
 *
 * @example
 * ```ts
 * normalizeHtu('HTTPS://API.example:443/a/../orders?x=1'); // 'https://api.example/orders'
 * ```
 */
export function normalizeHtu(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri.length > 4096) return undefined;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  // Credentials in a URI are no part of a resource's identity; a proof carrying them is odd.
  if (url.username !== '' || url.password !== '') return undefined;
  return `${url.origin}${normalizePercentEncoding(url.pathname)}`;
}

/**
 * Where the public origin of a request comes from (RFC 9449 §4.3 check 9).
 *
 * @example
 * ```ts
 * const configured: OriginPolicy = { origins: ['https://api.example', 'https://eu.api.example'] };
 * const behindProxy: OriginPolicy = { trustProxy: true };
 * expectedHtus({ method: 'GET', url: '/orders', headers: [] }, configured);
 * // ['https://api.example/orders', 'https://eu.api.example/orders']
 * ```
 */
export type OriginPolicy =
  | { readonly origins: readonly string[] }
  /** Behind a TLS-terminating proxy that sets `X-Forwarded-Proto` and `X-Forwarded-Host`. */
  | { readonly trustProxy: true };

// A reg-name or IP literal (RFC 3986 §3.2.2) and an optional port: no list, path or userinfo.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$/;

function forwardedOrigin(request: GuardRequest): string | undefined {
  const protos = headerValues(request.headers, 'x-forwarded-proto');
  const hosts = headerValues(request.headers, 'x-forwarded-host');
  // A list means several proxies wrote: refuse rather than guess which one to believe.
  if (protos.length !== 1 || hosts.length !== 1) return undefined;
  const proto = (protos[0] as string).trim().toLowerCase();
  const host = (hosts[0] as string).trim();
  // RFC 9110 §7.2: a host and an optional port, nothing more. `api.example/v1`, `a@b` or
  // `api.example?` would otherwise move the path, the host or the query of the URI built.
  if ((proto !== 'https' && proto !== 'http') || !HOST.test(host)) return undefined;
  return `${proto}://${host}`;
}

function pathOf(target: string): string {
  // Origin-form (`/orders?x`) is the norm; an absolute-form target keeps only its path: the
  // origin always comes from configuration, never from what the client wrote.
  if (!target.startsWith('/')) {
    try {
      return new URL(target).pathname;
    } catch {
      return '/';
    }
  }
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

/**
 * The URIs a proof's `htu` may name for this request: each configured public origin joined
 * with the request path, normalised like {@link normalizeHtu}. Never built from `Host`.
 *
 * @example
 * ```ts
 * expectedHtus({ method: 'GET', url: '/orders?page=2', headers: [] }, { origins: ['https://api.example'] });
 * // ['https://api.example/orders']
 * ```
 */
export function expectedHtus(request: GuardRequest, policy: OriginPolicy): string[] {
  const origins = 'origins' in policy ? policy.origins : [forwardedOrigin(request)];
  const path = pathOf(request.url);
  const uris: string[] = [];
  for (const origin of origins) {
    if (origin === undefined) continue;
    // A path starting with `//` would become a host; prefix it so it stays a path.
    const uri = normalizeHtu(`${origin}${path.startsWith('//') ? `/.${path}` : path}`);
    if (uri !== undefined) uris.push(uri);
  }
  return uris;
}
