import type { Claims } from './claims.js';

/**
 * What a verified request carries: `req.auth` in Express, `ctx.state.auth` in Koa, `@Auth()`
 * in NestJS. Frozen: the verified-token cache shares it between requests of one token.
 *
 * @example
 * ```ts
 * app.get('/me', (req, res) => res.json({ sub: req.auth.subject, scopes: req.auth.scopes }));
 * ```
 */
export interface AuthContext<C extends Claims = Claims> {
  /** The access token as sent. Do not log it. */
  readonly token: string;
  /** The verified JWS protected header. */
  readonly header: Readonly<Record<string, unknown>>;
  /** The verified claims set. */
  readonly claims: C;
  /** Scopes from the configured scope claim, in token order. */
  readonly scopes: readonly string[];
  /** `iss`, matched exactly against the configuration. */
  readonly issuer: string;
  /** `sub`, when present. */
  readonly subject: string | undefined;
}
