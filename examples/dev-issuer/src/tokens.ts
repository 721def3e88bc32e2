import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { DevClient } from './clients.js';
import type { SigningKeys } from './keys.js';

/**
 * What a token is minted for, after the grant rules decided it.
 *
 * @example
 * ```ts
 * const grant: TokenGrant = { scopes: ['orders:read'], audience: 'https://api.example/' };
 * ```
 */
export interface TokenGrant {
  readonly scopes: readonly string[];
  readonly audience: string | readonly string[];
  /** Binds the token to a DPoP key (RFC 9449 §6): its RFC 7638 thumbprint becomes `cnf.jkt`. */
  readonly jkt?: string | undefined;
}

/**
 * A signed access token and what the token response says about it.
 *
 * @example
 * ```ts
 * const { accessToken, expiresInSeconds } = await minter.mint(client, grant);
 * ```
 */
export interface MintedToken {
  readonly accessToken: string;
  /** Seconds until `exp`, never below 0 (a backdated token is already expired). */
  readonly expiresInSeconds: number;
  /** The granted scopes, space-separated. */
  readonly scope: string;
}

/**
 * Signs RFC 9068 JWT access tokens.
 *
 * @example
 * ```ts
 * const minter = createTokenMinter({ issuer, keys, tokenLifetimeSeconds: 900 });
 * const { accessToken } = await minter.mint(client, { scopes: ['orders:read'], audience });
 * ```
 */
export interface TokenMinter {
  mint(client: DevClient, grant: TokenGrant): Promise<MintedToken>;
}

/**
 * Options of {@link createTokenMinter}.
 *
 * @example
 * ```ts
 * const options: TokenMinterOptions = { issuer: 'http://127.0.0.1:4000', keys, tokenLifetimeSeconds: 900 };
 * ```
 */
export interface TokenMinterOptions {
  readonly issuer: string;
  readonly keys: SigningKeys;
  /** Used for clients that do not set their own lifetime. */
  readonly tokenLifetimeSeconds: number;
}

/**
 * Creates the minter that both `/token` and `DevIssuer.mint()` sign with.
 *
 * @example
 * ```ts
 * const minter = createTokenMinter({ issuer: 'http://127.0.0.1:4000', keys, tokenLifetimeSeconds: 900 });
 * ```
 */
export function createTokenMinter(options: TokenMinterOptions): TokenMinter {
  const { issuer, keys, tokenLifetimeSeconds } = options;

  return {
    async mint(client, grant) {
      const key = keys.forAlgorithm(client.alg ?? 'ES256');
      const now = Math.floor(Date.now() / 1000);
      const iat = now - (client.backdateSeconds ?? 0);
      const exp = iat + (client.tokenLifetimeSeconds ?? tokenLifetimeSeconds);
      const scope = grant.scopes.join(' ');
      // RFC 9068 §2.2: client_credentials has no resource owner, so sub is the client itself.
      const claims = {
        client_id: client.clientId,
        ...(scope === '' ? {} : { scope }),
        // RFC 9449 §6.1: the resource server accepts the token only with a proof by this key.
        ...(grant.jkt === undefined ? {} : { cnf: { jkt: grant.jkt } }),
      };
      const accessToken = await new SignJWT(claims)
        // RFC 9068 §2.1: typ at+jwt keeps the token from being replayed as an ID token or
        // any other JWT a verifier might accept.
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(client.clientId)
        .setAudience(typeof grant.audience === 'string' ? grant.audience : [...grant.audience])
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(key.privateKey);
      return { accessToken, expiresInSeconds: Math.max(0, exp - now), scope };
    },
  };
}
