import { readClientCredentials } from './client-auth.js';
import type { ClientRegistry } from './clients.js';
import type { DpopProofChecker } from './dpop.js';
import { refuse, type OAuthErrorBody, type Refusal } from './errors.js';
import type { ClientCredentialsGrant } from './grant.js';
import type { HttpAnswer } from './http.js';

/**
 * A token request as the endpoint needs it, already read off the socket.
 *
 * @example
 * ```ts
 * const request: TokenRequest = {
 *   contentType: 'application/x-www-form-urlencoded',
 *   authorization: undefined,
 *   dpop: [],
 *   body: Buffer.from('grant_type=client_credentials&client_id=a&client_secret=s'),
 * };
 * ```
 */
export interface TokenRequest {
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
  /** Every `DPoP` header of the request, from the raw headers (Node joins repeated ones). */
  readonly dpop: readonly string[];
  readonly body: Buffer;
}

/**
 * The `/token` endpoint: form parsing, client authentication, the DPoP proof if any, then the
 * grant.
 *
 * @example
 * ```ts
 * const endpoint = createTokenEndpoint({ registry, grant });
 * writeAnswer(res, await endpoint.handle({ contentType, authorization, body }));
 * ```
 */
export interface TokenEndpoint {
  handle(request: TokenRequest): Promise<HttpAnswer>;
}

// RFC 6749 §5.1: token responses, and errors alike, must not be cached.
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;
// RFC 8707 §2 lets `resource` repeat; RFC 6749 §3.2 forbids repeating any other parameter.
const REPEATABLE = new Set(['resource']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Creates the token endpoint over a client registry and the client_credentials grant.
 *
 * @example
 * ```ts
 * const endpoint = createTokenEndpoint({ registry: createClientRegistry(clients), grant, dpop });
 * ```
 */
export function createTokenEndpoint(options: {
  readonly registry: ClientRegistry;
  readonly grant: ClientCredentialsGrant;
  readonly dpop: DpopProofChecker;
}): TokenEndpoint {
  const { registry, grant, dpop } = options;

  return {
    async handle(request) {
      const form = parseForm(request);
      if (!form.ok) return answerRefusal(form);

      const presented = readClientCredentials(request.authorization, form.params);
      if (!presented.ok) return answerRefusal(presented);
      const client = registry.authenticate(presented.clientId, presented.clientSecret);
      if (client === undefined) {
        return answerRefusal(refuse('invalid_client', 'client authentication failed'));
      }

      const grantType = form.params.get('grant_type');
      if (grantType === null) {
        return answerRefusal(refuse('invalid_request', 'grant_type is required'));
      }
      if (grantType !== 'client_credentials') {
        return answerRefusal(
          refuse('unsupported_grant_type', 'only the client_credentials grant is supported'),
        );
      }

      // Checked only for an authenticated client, so that no one else can fill the memory of
      // spent proofs.
      const proof = await dpop.check(request.dpop);
      if (proof !== undefined && !proof.ok) return answerRefusal(proof);

      const result = await grant.issue(client, {
        scope: form.params.get('scope') ?? undefined,
        resources: form.params.getAll('resource'),
        jkt: proof?.jkt,
      });
      if (!result.ok) return answerRefusal(result);
      return { status: 200, body: result.response, headers: NO_STORE };
    },
  };
}

function parseForm(
  request: TokenRequest,
): { readonly ok: true; readonly params: URLSearchParams } | Refusal {
  const mediaType = request.contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/x-www-form-urlencoded') {
    return refuse('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  let text: string;
  try {
    text = utf8.decode(request.body);
  } catch {
    return refuse('invalid_request', 'the body is not valid UTF-8');
  }
  const params = new URLSearchParams(text);
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name) && !REPEATABLE.has(name)) {
      return refuse('invalid_request', 'a parameter is repeated');
    }
    seen.add(name);
  }
  return { ok: true, params };
}

function answerRefusal(refusal: Refusal): HttpAnswer {
  const body: OAuthErrorBody = { error: refusal.error, error_description: refusal.description };
  if (refusal.error === 'invalid_client') {
    // RFC 6749 §5.2: a 401 names the authentication scheme the client should use.
    return {
      status: 401,
      body,
      headers: { ...NO_STORE, 'www-authenticate': 'Basic realm="dev-issuer"' },
    };
  }
  return { status: 400, body, headers: NO_STORE };
}
