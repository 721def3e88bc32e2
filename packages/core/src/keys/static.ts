import type { Algorithm } from '../algorithms.js';
import { ConfigurationError, JwtGuardError } from '../errors.js';
import { isKeyObject, type KeyObject } from '../node-crypto.js';
import { createVerificationKey, importJwk, importPem, type KeyImport } from './key.js';
import { createKeySet, type KeySource } from './source.js';

/**
 * A JSON Web Key Set document.
 *
 * @example
 * ```ts
 * const jwks: JsonWebKeySet = {
 *   keys: [{ kty: 'EC', crv: 'P-256', x, y, kid: 'k1', alg: 'ES256', use: 'sig' }],
 * };
 * ```
 */
export interface JsonWebKeySet {
  readonly keys: readonly Record<string, unknown>[];
}

/**
 * A key given in configuration: a PEM public key or certificate, a public or secret
 * `KeyObject`, a JWK, or a JWKS. A plain string or Buffer is never taken as an HMAC secret:
 * that is how public keys end up used as HMAC keys (the algorithm-confusion attack).
 *
 * @example
 * ```ts
 * const keys: KeyInput[] = [
 *   readFileSync('idp-public.pem', 'utf8'),
 *   createSecretKey(Buffer.from(process.env.HS256_SECRET!, 'base64url')),
 *   { kty: 'OKP', crv: 'Ed25519', x, kid: 'ed-1' },
 * ];
 * createGuard({ issuer, audience, keys, algorithms: ['RS256', 'HS256', 'EdDSA'] });
 * ```
 */
export type KeyInput = string | KeyObject | Record<string, unknown> | JsonWebKeySet;

function importInput(input: KeyInput, allowed: readonly Algorithm[]): KeyImport[] {
  if (typeof input === 'string') {
    if (!input.includes('-----BEGIN')) {
      throw new ConfigurationError(
        '"keys": a string must be a PEM public key or certificate; pass an HMAC secret as ' +
          'crypto.createSecretKey(bytes) or an oct JWK, and list \'HS256\' in "algorithms"',
      );
    }
    return [importPem(input, allowed)];
  }
  if (isKeyObject(input)) return [createVerificationKey(input, { allowed })];
  if (Buffer.isBuffer(input) || ArrayBuffer.isView(input)) {
    throw new ConfigurationError(
      '"keys": raw bytes are ambiguous; wrap an HMAC secret with crypto.createSecretKey(bytes)',
    );
  }
  if (typeof input === 'object' && input !== null && Array.isArray(input.keys)) {
    return (input as JsonWebKeySet).keys.map((jwk) => importJwk(jwk, allowed));
  }
  return [importJwk(input, allowed)];
}

/**
 * A key source over keys given in configuration. Every key must be usable with at least one
 * configured algorithm; a weak, private or mislabelled key fails here, at startup.
 *
 * @example
 * ```ts
 * const source = createStaticKeySource([publicKeyPem, { kty: 'EC', crv: 'P-256', x, y, kid: 'k2' }], ['RS256', 'ES256']);
 * ```
 */
export function createStaticKeySource(
  inputs: KeyInput | readonly KeyInput[],
  allowed: readonly Algorithm[],
): KeySource {
  const list = Array.isArray(inputs) ? (inputs as readonly KeyInput[]) : [inputs as KeyInput];
  if (list.length === 0) throw new ConfigurationError('"keys" is empty; give at least one key');
  const keys = list.flatMap((input, index) =>
    importInput(input, allowed).map((result) => {
      if (!result.ok) throw new ConfigurationError(`"keys"[${index}]: ${result.reason}`);
      return result.key;
    }),
  );
  const set = createKeySet(keys);
  return {
    select(kid, algorithm) {
      const found = set.candidates(kid, algorithm);
      if (found.length === 0) throw new JwtGuardError('ERR_KEY_NOT_FOUND');
      return found;
    },
    has: (key) => set.has(key),
    hydrate: () => Promise.resolve(),
  };
}
