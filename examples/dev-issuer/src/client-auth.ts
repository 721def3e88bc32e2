import { refuse, type Refusal } from './errors.js';

/**
 * The client credentials a token request presented, and how.
 *
 * @example
 * ```ts
 * const presented: PresentedCredentials = {
 *   ok: true,
 *   method: 'client_secret_basic',
 *   clientId: 'catalog-reader',
 *   clientSecret: 'catalog-reader-dev-secret',
 * };
 * ```
 */
export interface PresentedCredentials {
  readonly ok: true;
  readonly method: ClientAuthMethod;
  readonly clientId: string;
  readonly clientSecret: string;
}

/**
 * The token endpoint authentication methods the issuer supports (RFC 8414 §2 names).
 *
 * @example
 * ```ts
 * const method: ClientAuthMethod = 'client_secret_post';
 * ```
 */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

/**
 * The methods, in the order discovery advertises them.
 *
 * @example
 * ```ts
 * metadata.token_endpoint_auth_methods_supported = [...CLIENT_AUTH_METHODS];
 * ```
 */
export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = Object.freeze([
  'client_secret_basic',
  'client_secret_post',
]);

/**
 * Reads the client's id and secret from an `Authorization: Basic` header (RFC 6749 §2.3.1) or
 * from the form body (`client_id` and `client_secret`). Does not check them.
 *
 * @example
 * ```ts
 * const presented = readClientCredentials(req.headers.authorization, form);
 * if (!presented.ok) return answerError(presented);
 * ```
 */
export function readClientCredentials(
  authorization: string | undefined,
  form: URLSearchParams,
): PresentedCredentials | Refusal {
  const formId = form.get('client_id') ?? undefined;
  const formSecret = form.get('client_secret') ?? undefined;

  if (authorization !== undefined) {
    // RFC 6749 §2.3: a client must not use more than one authentication method per request.
    if (formSecret !== undefined) {
      return refuse('invalid_request', 'more than one client authentication method was used');
    }
    const basic = parseBasic(authorization);
    if (basic === undefined) return refuse('invalid_client', 'client authentication failed');
    // A client_id beside Basic is tolerated only if it names the same client.
    if (formId !== undefined && formId !== basic.clientId) {
      return refuse('invalid_request', 'client_id does not match the authenticated client');
    }
    return { ok: true, method: 'client_secret_basic', ...basic };
  }
  if (formId !== undefined && formSecret !== undefined) {
    return { ok: true, method: 'client_secret_post', clientId: formId, clientSecret: formSecret };
  }
  return refuse('invalid_client', 'client authentication failed');
}

// RFC 7617 token68 in its base64 form: strict, so that two encodings never name one secret.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseBasic(header: string): { clientId: string; clientSecret: string } | undefined {
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  const match = /^basic +(\S+) *$/i.exec(header);
  const encoded = match?.[1];
  if (encoded === undefined || !BASE64.test(encoded)) return undefined;
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined with ':'.
  const clientId = formDecode(decoded.slice(0, colon));
  const clientSecret = formDecode(decoded.slice(colon + 1));
  if (clientId === undefined || clientSecret === undefined || clientId === '') return undefined;
  return { clientId, clientSecret };
}

function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
