import { FetchError, fetchJsonObject, isTrustedKeyUrl, type FetchLimits } from './http.js';

/**
 * The metadata URLs to try for an issuer: OpenID Connect Discovery 1.0 §4 (path appended),
 * then RFC 8414 §3.1 (well-known segment inserted before the issuer's path).
 *
 * @example
 * ```ts
 * discoveryUrls('https://idp.example/tenant-a');
 * // ['https://idp.example/tenant-a/.well-known/openid-configuration',
 * //  'https://idp.example/.well-known/oauth-authorization-server/tenant-a']
 * ```
 */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  return [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

/**
 * Finds an issuer's `jwks_uri` by discovery and remembers it. The document must name the
 * configured issuer exactly (OIDC Discovery §4.3, RFC 8414 §3.3) and its `jwks_uri` must be
 * HTTPS (loopback HTTP only for a loopback HTTP issuer); a URL from a token is never used.
 *
 * @example
 * ```ts
 * const locate = createJwksLocator('https://idp.example/', { timeoutMs: 5000, maxResponseBytes: 1 << 20 });
 * const jwksUri = await locate();
 * ```
 */
export function createJwksLocator(issuer: string, limits: FetchLimits): () => Promise<string> {
  let found: string | undefined;
  const issuerIsHttps = new URL(issuer).protocol === 'https:';
  return async () => {
    if (found !== undefined) return found;
    let lastError: unknown;
    // One timeout for the metadata document, whichever URL serves it: an issuer that does
    // not answer the first in time is not asked the second, so a request never waits the
    // timeout once per URL. (The key set fetched next has a timeout of its own; the URL
    // found is remembered, so that is the first load only.)
    const deadline = performance.now() + limits.timeoutMs;
    for (const url of discoveryUrls(issuer)) {
      const timeoutMs = Math.floor(deadline - performance.now());
      if (timeoutMs <= 0) break;
      let document: Record<string, unknown>;
      try {
        document = await fetchJsonObject(url, { ...limits, timeoutMs });
      } catch (error) {
        lastError = error;
        continue;
      }
      if (document.issuer !== issuer) {
        throw new FetchError(`discovery document at ${url} names another issuer`);
      }
      const jwksUri = document.jwks_uri;
      // Plain loopback HTTP is for an issuer that is itself local: a remote HTTPS issuer
      // naming http://127.0.0.1/… would make every instance GET its own internal services.
      if (
        typeof jwksUri !== 'string' ||
        !isTrustedKeyUrl(jwksUri) ||
        (issuerIsHttps && !jwksUri.startsWith('https:'))
      ) {
        throw new FetchError(`discovery document at ${url} has no usable HTTPS "jwks_uri"`);
      }
      found = jwksUri;
      return jwksUri;
    }
    throw new FetchError(`discovery failed for ${issuer}`, { cause: lastError });
  };
}
