import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { MAX_BODY_BYTES, readBody, writeAnswer, type HttpAnswer } from './http.js';
import type { TokenEndpoint } from './token-endpoint.js';

/**
 * What the issuer serves, and under which issuer path.
 *
 * @example
 * ```ts
 * const options: IssuerRoutes = { issuerPath: '', metadata, jwks: keys.jwks, tokenEndpoint };
 * ```
 */
export interface IssuerRoutes {
  /** The issuer URL's path without a trailing slash; `''` for an issuer at the origin. */
  readonly issuerPath: string;
  readonly metadata: object;
  readonly jwks: object;
  readonly tokenEndpoint: TokenEndpoint;
}

const READ_ONLY = { allow: 'GET, HEAD' } as const;
// Keys are generated at each start, so a verifier should not keep them for long.
const SHORT_CACHE = { 'cache-control': 'public, max-age=60' } as const;

/**
 * Creates the node:http request listener that routes discovery, JWKS and token requests.
 * Every input, however malformed, gets a 4xx JSON answer.
 *
 * @example
 * ```ts
 * const server = createServer(createIssuerHandler(routes));
 * server.listen(0, '127.0.0.1');
 * ```
 */
export function createIssuerHandler(options: IssuerRoutes): RequestListener {
  const { issuerPath, metadata, jwks, tokenEndpoint } = options;
  // OpenID Connect Discovery 1.0 §4 appends the well-known path to the issuer; RFC 8414 §3.1
  // inserts it between the origin and the issuer's path. Both lead to the same document.
  const metadataPaths = new Set([
    `${issuerPath}/.well-known/openid-configuration`,
    `/.well-known/oauth-authorization-server${issuerPath}`,
  ]);
  const jwksPath = `${issuerPath}/jwks.json`;
  const tokenPath = `${issuerPath}/token`;

  const route = async (req: IncomingMessage): Promise<HttpAnswer> => {
    const path = pathOf(req.url);
    if (path === undefined) return { status: 400, body: { error: 'invalid_request' } };
    if (metadataPaths.has(path) || path === jwksPath) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return { status: 405, body: { error: 'method_not_allowed' }, headers: READ_ONLY };
      }
      return { status: 200, body: path === jwksPath ? jwks : metadata, headers: SHORT_CACHE };
    }
    if (path === tokenPath) {
      // RFC 6749 §3.2: the token endpoint takes POST only, so credentials never sit in a URL.
      if (req.method !== 'POST') {
        return {
          status: 405,
          body: { error: 'invalid_request', error_description: 'the token endpoint takes POST' },
          headers: { allow: 'POST', 'cache-control': 'no-store' },
        };
      }
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined) {
        return {
          status: 413,
          body: { error: 'invalid_request', error_description: 'the request body is too large' },
          headers: { connection: 'close', 'cache-control': 'no-store' },
        };
      }
      return tokenEndpoint.handle({
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
        dpop: rawHeaderValues(req, 'dpop'),
        body,
      });
    }
    return { status: 404, body: { error: 'not_found' } };
  };

  return function devIssuerHandler(req, res) {
    route(req).then(
      (answer) => respond(res, answer),
      // Only a bug lands here (a client that hangs up mid-body aside); the answer stays generic
      // and nothing about the request is logged, since it may carry a secret.
      () => respond(res, { status: 500, body: { error: 'server_error' } }),
    );
  };
}

function respond(res: ServerResponse, answer: HttpAnswer): void {
  if (res.headersSent || res.destroyed) return;
  writeAnswer(res, answer);
}

// `req.headers` joins a repeated unknown header with ", ", which would hide a second proof.
function rawHeaderValues(req: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  for (let index = 0; index + 1 < req.rawHeaders.length; index += 2) {
    if (req.rawHeaders[index]?.toLowerCase() === name) values.push(req.rawHeaders[index + 1] ?? '');
  }
  return values;
}

function pathOf(url: string | undefined): string | undefined {
  try {
    // A fixed base also accepts the absolute form (`GET http://host/path`) a proxy may send.
    return new URL(url ?? '/', 'http://dev-issuer.invalid').pathname;
  } catch {
    return undefined;
  }
}
