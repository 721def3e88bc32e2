import { CLIENT_AUTH_METHODS } from './client-auth.js';
import type { DevClient } from './clients.js';
import { DPOP_ALGORITHMS } from './dpop.js';

/**
 * The authorization server metadata served at both well-known addresses.
 *
 * @example
 * ```ts
 * const metadata: IssuerMetadata = createMetadata({ issuer, jwksUri, tokenEndpoint, clients });
 * metadata.grant_types_supported; // ['client_credentials']
 * ```
 */
export interface IssuerMetadata {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly token_endpoint: string;
  readonly grant_types_supported: readonly string[];
  readonly token_endpoint_auth_methods_supported: readonly string[];
  readonly scopes_supported: readonly string[];
  readonly response_types_supported: readonly string[];
  /** RFC 9449 §5.1: the algorithms the token endpoint accepts DPoP proofs signed with. */
  readonly dpop_signing_alg_values_supported: readonly string[];
}

/**
 * Builds the RFC 8414 / OpenID Connect Discovery document. It only lists what the issuer does:
 * client_credentials at a token endpoint (with DPoP-bound tokens on request), no authorization
 * endpoint and no ID tokens.
 *
 * @example
 * ```ts
 * const metadata = createMetadata({
 *   issuer: 'http://127.0.0.1:4000',
 *   jwksUri: 'http://127.0.0.1:4000/jwks.json',
 *   tokenEndpoint: 'http://127.0.0.1:4000/token',
 *   clients: DEFAULT_DEV_CLIENTS,
 * });
 * ```
 */
export function createMetadata(options: {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  readonly clients: readonly DevClient[];
}): IssuerMetadata {
  const scopes = [...new Set(options.clients.flatMap((client) => client.scopes))].sort();
  return Object.freeze({
    issuer: options.issuer,
    jwks_uri: options.jwksUri,
    token_endpoint: options.tokenEndpoint,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    scopes_supported: scopes,
    // RFC 8414 §2 requires the member; with no authorization endpoint there are no response types.
    response_types_supported: [],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  });
}
