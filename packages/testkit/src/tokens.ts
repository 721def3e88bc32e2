import { createHmac, sign as cryptoSign, constants, type KeyObject } from 'node:crypto';
import type { TestAlgorithm, TestKey } from './keys.js';

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/**
 * base64url of a string or bytes, without padding.
 *
 * @example
 * ```ts
 * b64url('{"alg":"none"}'); // 'eyJhbGciOiJub25lIn0'
 * ```
 */
export function b64url(input: string | Uint8Array): string {
  return Buffer.from(input).toString('base64url');
}

/**
 * Signs a signing input the way JWS does for `alg`, with the given key. `der: true` gives a
 * DER ECDSA signature instead of raw r‖s (for the DER-refusal tests).
 *
 * @example
 * ```ts
 * const input = `${b64url(header)}.${b64url(payload)}`;
 * const token = `${input}.${b64url(signBytes('ES256', keys.ES256.signingKey, input))}`;
 * ```
 */
export function signBytes(
  alg: string,
  key: KeyObject,
  input: string,
  options: { der?: boolean } = {},
): Buffer {
  const data = Buffer.from(input, 'latin1');
  const family = alg.slice(0, 2);
  const hash = HASH[alg.slice(2)];
  switch (family) {
    case 'HS':
      return createHmac(hash ?? 'sha256', key)
        .update(data)
        .digest();
    case 'RS':
      return cryptoSign(hash ?? null, data, key);
    case 'PS':
      return cryptoSign(hash ?? null, data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(alg.slice(2)) / 8,
      });
    case 'ES':
      return cryptoSign(hash ?? null, data, {
        key,
        dsaEncoding: options.der ? 'der' : 'ieee-p1363',
      });
    default:
      return cryptoSign(null, data, key);
  }
}

/**
 * Options of {@link signJwt}.
 *
 * @example
 * ```ts
 * // HS256 over the public key's PEM: the algorithm-confusion forgery.
 * const forged: SignOptions = {
 *   header: { alg: 'HS256' },
 *   signingKey: createSecretKey(Buffer.from(keys.RS256.publicPem!)),
 * };
 * signJwt(keys.RS256, claims, forged);
 * ```
 */
export interface SignOptions {
  /** Replaces or adds header members; `undefined` values remove the default member. */
  readonly header?: Record<string, unknown>;
  /** Sign with `alg` from the header but this algorithm's computation (confusion attacks). */
  readonly signAs?: TestAlgorithm;
  /** Sign with this key object instead of the key's own. */
  readonly signingKey?: KeyObject;
  readonly der?: boolean;
}

/**
 * Signs a JWT with a test key. The header defaults to `{ alg, typ: 'at+jwt', kid }`; the
 * payload is serialized exactly as given (a string payload is used verbatim, so tests can
 * send duplicate keys, arrays, `null`…).
 *
 * @example
 * ```ts
 * const token = signJwt(keys.ES256, { iss, aud, sub: 'alice', iat, exp });
 * ```
 */
export function signJwt(key: TestKey, payload: unknown, options: SignOptions = {}): string {
  const header: Record<string, unknown> = { alg: key.alg, typ: 'at+jwt', kid: key.kid };
  for (const [name, value] of Object.entries(options.header ?? {})) {
    if (value === undefined) delete header[name];
    else header[name] = value;
  }
  return signRaw(
    JSON.stringify(header),
    typeof payload === 'string' ? payload : JSON.stringify(payload),
    {
      alg: options.signAs ?? (header.alg as string),
      key: options.signingKey ?? key.signingKey,
      der: options.der,
    },
  );
}

/**
 * Assembles a compact JWS from raw header and payload JSON texts (verbatim), signed with
 * `key` under `alg`; `alg: 'none'` gives an empty signature.
 *
 * @example
 * ```ts
 * const es256 = { alg: 'ES256', key: keys.ES256.signingKey };
 * signRaw('{"alg":"none","alg":"ES256"}', JSON.stringify(claims), es256);
 * ```
 */
export function signRaw(
  headerJson: string,
  payloadJson: string,
  signer: { alg: string; key?: KeyObject; der?: boolean | undefined },
): string {
  const input = `${b64url(headerJson)}.${b64url(payloadJson)}`;
  if (signer.key === undefined || signer.alg.toLowerCase() === 'none') return `${input}.`;
  return `${input}.${b64url(signBytes(signer.alg, signer.key, input, { der: signer.der ?? false }))}`;
}

/**
 * Claims of a well-formed access token, relative to a time in seconds.
 *
 * @example
 * ```ts
 * const input: AccessTokenClaimsInput = {
 *   issuer,
 *   audience,
 *   nowSeconds: clock.nowSeconds(),
 *   lifetimeSeconds: 60,
 *   extra: { tenant: 'acme' },
 * };
 * ```
 */
export interface AccessTokenClaimsInput {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  readonly nowSeconds: number;
  readonly lifetimeSeconds?: number;
  readonly subject?: string;
  readonly scope?: string;
  readonly extra?: Record<string, unknown>;
}

let jtiSerial = 0;

/**
 * The RFC 9068 claims set of a valid access token.
 *
 * @example
 * ```ts
 * accessTokenClaims({ issuer, audience, nowSeconds: clock.nowSeconds(), scope: 'read:items' });
 * ```
 */
export function accessTokenClaims(input: AccessTokenClaimsInput): Record<string, unknown> {
  return {
    iss: input.issuer,
    sub: input.subject ?? 'user-1',
    aud: input.audience,
    iat: input.nowSeconds,
    exp: input.nowSeconds + (input.lifetimeSeconds ?? 900),
    jti: `jti-${++jtiSerial}-${Math.random().toString(36).slice(2)}`,
    client_id: 'test-client',
    ...(input.scope === undefined ? {} : { scope: input.scope }),
    ...input.extra,
  };
}

/**
 * What {@link createTokenFactory} returns: claims sets and tokens of one issuer, audience and
 * clock, with `extra` claims over the defaults (`undefined` removes one).
 *
 * @example
 * ```ts
 * const mint: TokenFactory = createTokenFactory({ issuer, audience, clock });
 * const payload = JSON.stringify(mint.claims({ scope: 'read:items' }));
 * ```
 */
export interface TokenFactory {
  claims(extra?: Record<string, unknown>): Record<string, unknown>;
  sign(key: TestKey, extra?: Record<string, unknown>, options?: SignOptions): string;
}

/**
 * A factory bound to one issuer, audience and clock, for tests that mint many tokens.
 *
 * @example
 * ```ts
 * const mint = createTokenFactory({ issuer, audience, clock });
 * const token = mint.sign(keys.RS256, { scope: 'read:items' });
 * ```
 */
export function createTokenFactory(defaults: {
  issuer: string;
  audience: string | readonly string[];
  clock: { nowMs(): number };
}): TokenFactory {
  const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const all = accessTokenClaims({
      issuer: defaults.issuer,
      audience: defaults.audience,
      nowSeconds: Math.floor(defaults.clock.nowMs() / 1000),
      extra,
    });
    // `undefined` in extra removes a claim.
    for (const [name, value] of Object.entries(extra)) if (value === undefined) delete all[name];
    return all;
  };
  return { claims, sign: (key, extra, options) => signJwt(key, claims(extra), options) };
}

/**
 * Replaces one segment (0 header, 1 payload, 2 signature) of a compact token.
 *
 * @example
 * ```ts
 * const forged = replaceSegment(token, 1, b64url(JSON.stringify({ ...claims, scope: 'admin' })));
 * ```
 */
export function replaceSegment(token: string, index: 0 | 1 | 2, segment: string): string {
  const parts = token.split('.');
  parts[index] = segment;
  return parts.join('.');
}
