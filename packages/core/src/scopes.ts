import { JwtGuardError } from './errors.js';

/**
 * Where a token's scopes are read from. `scope` (RFC 9068 §2.2.3, RFC 8693 §4.2: one string,
 * space-separated) is the default; `scp` (Entra ID, Okta) and `permissions` (Auth0 RBAC) or
 * any other claim name are read when configured, as a string or an array of strings.
 *
 * @example
 * ```ts
 * const scopeClaim: ScopeClaim = 'scp';
 * createGuard({ issuer, audience, scopeClaim });
 * ```
 */
export type ScopeClaim = 'scope' | 'scp' | 'permissions' | (string & {});

/**
 * Reads the scopes of a claims set. Matching is exact and case-sensitive; a `scope` claim that
 * is not a string makes the token invalid.
 *
 * @example
 * ```ts
 * readScopes({ scope: 'read:items write:items' }, 'scope'); // ['read:items', 'write:items']
 * ```
 */
export function readScopes(
  claims: Readonly<Record<string, unknown>>,
  claim: ScopeClaim,
): readonly string[] {
  const value = claims[claim];
  if (value === undefined) return [];
  if (typeof value === 'string') {
    const scopes = value.split(' ');
    return scopes.includes('') ? scopes.filter((scope) => scope !== '') : scopes;
  }
  if (
    claim !== 'scope' &&
    Array.isArray(value) &&
    value.every((scope) => typeof scope === 'string')
  ) {
    return value.filter((scope) => scope !== '');
  }
  throw new JwtGuardError('ERR_CLAIM_INVALID', { requirement: claim });
}
