import { isScopeToken, type DevClient } from './clients.js';
import { refuse, type Refusal } from './errors.js';
import type { TokenMinter } from './tokens.js';

/**
 * The parameters of a client_credentials request that shape the token.
 *
 * @example
 * ```ts
 * const request: GrantRequest = { scope: 'orders:read', resources: ['https://api.example/'] };
 * ```
 */
export interface GrantRequest {
  /** RFC 6749 §3.3 space-separated scopes; absent means every scope of the client. */
  readonly scope?: string | undefined;
  /** RFC 8707 resource indicators; absent or empty means the configured audience. */
  readonly resources?: readonly string[] | undefined;
  /** The thumbprint of a verified DPoP proof's key: the token is bound to it (RFC 9449 §5). */
  readonly jkt?: string | undefined;
}

/**
 * The RFC 6749 §5.1 success response body.
 *
 * @example
 * ```ts
 * const body: TokenResponse = { access_token: jwt, token_type: 'Bearer', expires_in: 900, scope: 'orders:read' };
 * ```
 */
export interface TokenResponse {
  readonly access_token: string;
  /** `DPoP` for a DPoP-bound token (RFC 9449 §5), else `Bearer`. */
  readonly token_type: 'Bearer' | 'DPoP';
  readonly expires_in: number;
  readonly scope: string;
}

/**
 * The client_credentials grant (RFC 6749 §4.4) for an already authenticated client.
 *
 * @example
 * ```ts
 * const result = await grant.issue(client, { scope: 'orders:read' });
 * if (result.ok) send(200, result.response);
 * ```
 */
export interface ClientCredentialsGrant {
  issue(
    client: DevClient,
    request: GrantRequest,
  ): Promise<{ readonly ok: true; readonly response: TokenResponse } | Refusal>;
}

/**
 * Creates the grant: scope and resource rules in front of the minter.
 *
 * @example
 * ```ts
 * const grant = createClientCredentialsGrant({ minter, audience: 'https://api.example/' });
 * ```
 */
export function createClientCredentialsGrant(options: {
  readonly minter: TokenMinter;
  readonly audience: string | readonly string[];
}): ClientCredentialsGrant {
  const { minter, audience } = options;
  const audiences: readonly string[] = typeof audience === 'string' ? [audience] : audience;

  return {
    async issue(client, request) {
      const scopes = grantedScopes(client, request.scope);
      if (scopes === undefined) {
        return refuse(
          'invalid_scope',
          'requested scope is malformed or not allowed for this client',
        );
      }
      const resources = [...new Set(request.resources ?? [])];
      // RFC 8707 §2: a resource the server does not serve tokens for is invalid_target; an
      // exact match keeps a look-alike URI from becoming an audience.
      if (!resources.every((resource) => audiences.includes(resource))) {
        return refuse('invalid_target', 'requested resource is not served by this issuer');
      }
      const tokenAudience = resources.length === 0 ? audience : oneOrMany(resources);
      const minted = await minter.mint(client, {
        scopes,
        audience: tokenAudience,
        jkt: request.jkt,
      });
      return {
        ok: true,
        response: {
          access_token: minted.accessToken,
          token_type: request.jkt === undefined ? 'Bearer' : 'DPoP',
          expires_in: minted.expiresInSeconds,
          scope: minted.scope,
        },
      };
    },
  };
}

function grantedScopes(client: DevClient, requested: string | undefined): string[] | undefined {
  if (requested === undefined) return [...client.scopes];
  // RFC 6749 §3.3: scope tokens are separated by exactly one space; anything else is malformed.
  const tokens = requested.split(' ');
  if (!tokens.every((token) => isScopeToken(token))) return undefined;
  // Exact, case-sensitive matching: 'ORDERS:READ' or 'orders:readX' are different scopes.
  if (!tokens.every((token) => client.scopes.includes(token))) return undefined;
  return [...new Set(tokens)];
}

function oneOrMany(values: readonly string[]): string | readonly string[] {
  return values.length === 1 && values[0] !== undefined ? values[0] : values;
}
