import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { parseJsonObject } from '../json.js';

/**
 * Limits of one key-material fetch.
 *
 * @example
 * ```ts
 * const limits: FetchLimits = {
 *   timeoutMs: 5000,
 *   maxResponseBytes: 1024 * 1024,
 *   agent: new https.Agent({ ca: readFileSync('corporate-ca.pem') }),
 * };
 * ```
 */
export interface FetchLimits {
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  /** An agent for proxies or private CAs; the default agent otherwise. */
  readonly agent?: HttpAgent | HttpsAgent | undefined;
}

/**
 * Why a fetch failed, for events and logs; never shown to clients.
 *
 * @example
 * ```ts
 * throw new FetchError(`discovery failed for ${issuer}`, { cause: lastError });
 * ```
 */
export class FetchError extends Error {
  override readonly name = 'FetchError';
}

const LOOPBACK_HOSTS = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Whether a URL may serve key material: HTTPS anywhere, plain HTTP only on loopback (local
 * development and tests), so a network attacker can never substitute keys.
 *
 * @example
 * ```ts
 * isTrustedKeyUrl('https://idp.example/jwks.json'); // true
 * isTrustedKeyUrl('http://127.0.0.1:4000/jwks.json'); // true
 * isTrustedKeyUrl('http://idp.example/jwks.json'); // false
 * ```
 */
export function isTrustedKeyUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  return isPotentiallyTrustworthy(url);
}

/**
 * Whether a URL's origin is "potentially trustworthy" (W3C Secure Contexts §3.1, for the
 * schemes a server meets): HTTPS, or plain HTTP on loopback. A network attacker can serve
 * pages at any other plain-HTTP origin, the API's own host name included.
 *
 * @example
 * ```ts
 * isPotentiallyTrustworthy(new URL('http://localhost:5173')); // true
 * isPotentiallyTrustworthy(new URL('http://api.example')); // false
 * ```
 */
export function isPotentiallyTrustworthy(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && LOOPBACK_HOSTS.test(url.hostname);
}

/**
 * GETs a JSON object. No redirects (a 3xx is a failure: a redirect could point key discovery
 * anywhere), a deadline over the whole exchange, a cap on the body before it is buffered.
 *
 * @example
 * ```ts
 * const jwks = await fetchJsonObject('https://idp.example/jwks.json', {
 *   timeoutMs: 5000,
 *   maxResponseBytes: 1024 * 1024,
 * });
 * ```
 */
export function fetchJsonObject(
  url: string,
  limits: FetchLimits,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (error: Error | undefined, value?: Record<string, unknown>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        req.destroy();
        reject(error);
      } else resolve(value as Record<string, unknown>);
    };
    const req = send(
      target,
      {
        method: 'GET',
        headers: { accept: 'application/json, application/jwk-set+json' },
        // An https.Agent (a private CA, a client certificate) is for https URLs only: Node
        // refuses it for http ones, which would make a loopback http issuer unreachable.
        agent:
          limits.agent instanceof HttpsAgent === (target.protocol === 'https:')
            ? limits.agent
            : undefined,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          finish(
            new FetchError(
              status >= 300 && status < 400 ? `redirect (${status}) refused` : `status ${status}`,
            ),
          );
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > limits.maxResponseBytes) {
          finish(new FetchError('response larger than maxResponseBytes'));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limits.maxResponseBytes) {
            finish(new FetchError('response larger than maxResponseBytes'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error) => finish(new FetchError('response failed', { cause: error })));
        res.on('end', () => {
          const parsed = parseJsonObject(Buffer.concat(chunks).toString('utf8'), 16);
          if (parsed.ok) finish(undefined, parsed.value);
          else finish(new FetchError(`response is not a JSON object (${parsed.problem})`));
        });
      },
    );
    const timer = setTimeout(
      () => finish(new FetchError(`no answer within ${limits.timeoutMs} ms`)),
      limits.timeoutMs,
    );
    req.on('error', (error) => finish(new FetchError('request failed', { cause: error })));
    req.end();
  });
}
