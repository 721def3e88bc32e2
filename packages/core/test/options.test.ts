import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { ConfigurationError, createGuard, createMemoryStore } from '@jwt-guard/core';
import { testKeys } from '@jwt-guard/testkit';

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const keys = testKeys();

/** Builds a guard from options that may be wrong on purpose (the type system is bypassed). */
function construct(options: Record<string, unknown>): unknown {
  return createGuard({ issuer: ISSUER, audience: AUDIENCE, ...options });
}

function configurationError(build: () => unknown): ConfigurationError {
  try {
    build();
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

describe('required options', () => {
  it('audience omitted does not compile, and throws with the fix in the message', () => {
    const error = configurationError(() =>
      // @ts-expect-error -- "audience" is required; null is the only opt-out (aws-jwt-verify's should-not-compile test)
      createGuard({ issuer: ISSUER, keys: keys.ES256.jwk }),
    );
    expect(error.message).toBe(
      '"audience" is required; pass null to disable audience checks explicitly',
    );
    expect({ name: error.name, code: error.code }).toEqual({
      name: 'ConfigurationError',
      code: 'ERR_INVALID_OPTIONS',
    });
  });

  it('audience: undefined does not compile either', () => {
    const error = configurationError(() =>
      // @ts-expect-error -- undefined is not an opt-out
      createGuard({ issuer: ISSUER, audience: undefined, keys: keys.ES256.jwk }),
    );
    expect(error.message).toMatch(/pass null to disable audience checks explicitly/);
  });

  it('audience: null is the explicit opt-out', () => {
    expect(() =>
      createGuard({ issuer: ISSUER, audience: null, keys: keys.ES256.jwk }),
    ).not.toThrow();
  });

  it('issuer omitted', () => {
    expect(configurationError(() => construct({ issuer: undefined })).message).toMatch(
      /"issuer" is required/,
    );
  });
});

describe('option names', () => {
  it('suggests the near name for a typo', () => {
    expect(configurationError(() => construct({ audiance: AUDIENCE })).message).toBe(
      'options: unknown option "audiance"; did you mean "audience"?',
    );
  });

  // A typo one level down would otherwise leave the default silently in force.
  it.each([
    ['jwks', { cacheMaxAge: 60 }, '"jwks": unknown option "cacheMaxAge"'],
    ['requiredClaims', { expiry: false }, '"requiredClaims": unknown option "expiry"'],
    ['cache', { size: 10 }, '"cache": unknown option "size"; use one of maxEntries'],
  ])('refuses unknown members of %s', (name, value, message) => {
    expect(
      configurationError(() => construct({ keys: keys.ES256.jwk, [name]: value })).message,
    ).toContain(message);
  });

  it('refuses unknown members of cookie', () => {
    expect(
      configurationError(() =>
        construct({
          keys: keys.ES256.jwk,
          tokenLocations: ['cookie'],
          cookie: { name: 'at', origins: [] },
        }),
      ).message,
    ).toContain('"cookie": unknown option "origins"');
  });
});

describe('every configuration mistake throws at construction, saying how to fix it', () => {
  const rsaPrivate = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a typo in an option name', { audiance: AUDIENCE }, /unknown option "audiance"/],
    [
      'a typo in an issuer option',
      { issuer: { issuer: ISSUER, jwksUrl: 'https://idp.example/jwks' } },
      /unknown option "jwksUrl"/,
    ],
    ['"none" in algorithms', { algorithms: ['RS256', 'none'] }, /"none" is never accepted/],
    ['"None" in algorithms', { algorithms: ['None'] }, /"none" is never accepted/],
    ['an unknown algorithm', { algorithms: ['RS1'] }, /"RS1" is not supported; use one of/],
    ['empty algorithms', { algorithms: [] }, /"algorithms" must be a non-empty array/],
    [
      'HS256 with jwksUri',
      { algorithms: ['HS256'], jwksUri: 'https://idp.example/jwks' },
      /HMAC algorithms need a shared secret in "keys"/,
    ],
    [
      'HS256 with discovery',
      { algorithms: ['RS256', 'HS256'] },
      /HMAC algorithms need a shared secret in "keys"/,
    ],
    [
      'a plain string key',
      { keys: 'my-shared-secret', algorithms: ['HS256'] },
      /crypto\.createSecretKey/,
    ],
    [
      'a Buffer key',
      { keys: Buffer.from('a'.repeat(64)), algorithms: ['HS256'] },
      /wrap an HMAC secret with crypto\.createSecretKey/,
    ],
    ['a private KeyObject', { keys: rsaPrivate }, /a private key was given; pass the public key/],
    [
      'a private PEM',
      { keys: rsaPrivate.export({ format: 'pem', type: 'pkcs8' }) },
      /a private key was given; pass the public key/,
    ],
    [
      'a private JWK',
      { keys: rsaPrivate.export({ format: 'jwk' }) },
      /publish only the public key/,
    ],
    [
      'an HMAC secret under 256 bits',
      { keys: createSecretKey(randomBytes(16)), algorithms: ['HS256'] },
      /at least 256 bits/,
    ],
    [
      'a key that fits no configured algorithm',
      { keys: keys.ES256.jwk, algorithms: ['RS256'] },
      /none of the configured algorithms fits this key/,
    ],
    [
      'keys and jwksUri together',
      { keys: keys.ES256.jwk, jwksUri: 'https://idp.example/jwks' },
      /give one of "keys", "jwksUri" or "keySource"/,
    ],
    ['empty keys', { keys: [] }, /"keys" is empty/],
    [
      'http jwksUri on a non-loopback host',
      { jwksUri: 'http://idp.example/jwks' },
      /"jwksUri" must be an https URL \(http only on loopback\)/,
    ],
    [
      'jwksUri with credentials',
      { jwksUri: 'https://user:pw@idp.example/jwks' },
      /"jwksUri" must be an https URL/,
    ],
    [
      'an http issuer with discovery',
      { issuer: 'http://idp.example/' },
      /is not an https URL, so its keys cannot be discovered; pass "jwksUri" or "keys"/,
    ],
    ['an empty audience', { audience: '' }, /pass null to disable audience checks explicitly/],
    ['an empty audience list', { audience: [] }, /pass null to disable audience checks explicitly/],
    ['an empty issuer list', { issuer: [] }, /name at least one issuer/],
    ['the same issuer twice', { issuer: [ISSUER, ISSUER], keys: keys.ES256.jwk }, /listed twice/],
    ['cookie location without cookie.name', { tokenLocations: ['cookie'] }, /set "cookie\.name"/],
    [
      'a cookie name that is no cookie token',
      { tokenLocations: ['cookie'], cookie: { name: 'a b' } },
      /set "cookie\.name"/,
    ],
    [
      'cookie set without the cookie location',
      { cookie: { name: 'at' } },
      /does not include "cookie"/,
    ],
    [
      'an allowed origin with a path',
      {
        tokenLocations: ['cookie'],
        cookie: { name: 'at', allowedOrigins: ['https://app.example/'] },
      },
      /is not an origin like https:\/\/app\.example/,
    ],
    [
      'an unknown token location',
      { tokenLocations: ['body'] },
      /"body" is not one of header, cookie, query/,
    ],
    [
      'both exp and iat optional',
      { requiredClaims: { exp: false, iat: false } },
      /exp and iat cannot both be optional/,
    ],
    [
      'a maximum token age without a required iat',
      { maxTokenAgeSeconds: 600, requiredClaims: { iat: false } },
      /"maxTokenAgeSeconds" is measured from iat, which "requiredClaims" makes optional/,
    ],
    [
      'a negative clock tolerance',
      { clockToleranceSeconds: -1 },
      /"clockToleranceSeconds" must be a finite number ≥ 0/,
    ],
    [
      'an infinite lifetime cap',
      { maxLifetimeSeconds: Infinity },
      /"maxLifetimeSeconds" must be a finite number/,
    ],
    [
      'a tolerance in a string',
      { clockToleranceSeconds: '5' },
      /"clockToleranceSeconds" must be a finite number/,
    ],
    ['a realm with a quote', { realm: 'api"x' }, /"realm" must be a string of printable ASCII/],
    ['a non-boolean strict', { strict: 'yes' }, /"strict" must be a boolean/],
  ])('%s', (_name, options, message) => {
    expect(configurationError(() => construct(options)).message).toMatch(message);
  });

  it('valid configurations of the same kinds construct without network access', () => {
    const secret = createSecretKey(randomBytes(32));
    expect(() => construct({ jwksUri: 'http://127.0.0.1:1/jwks' })).not.toThrow();
    expect(() => construct({ jwksUri: 'http://localhost:1/jwks' })).not.toThrow();
    expect(() => construct({ issuer: 'https://idp.invalid/' })).not.toThrow();
    expect(() => construct({ keys: secret, algorithms: ['HS256'] })).not.toThrow();
    expect(() =>
      construct({ keys: keys.RS256.publicPem, requiredClaims: { exp: false } }),
    ).not.toThrow();
    expect(() =>
      construct({
        keys: keys.ES256.jwk,
        tokenLocations: ['cookie'],
        cookie: { name: '__Host-at' },
      }),
    ).not.toThrow();
  });
});

describe('configuration messages', () => {
  it('name a URL without its credentials', () => {
    const error = configurationError(() =>
      construct({ jwksUri: 'http://svc:S3cr3tPassw0rd@idp.example/jwks' }),
    );
    expect(error.message).toBe(
      '"jwksUri" must be an https URL (http only on loopback), got "http://***@idp.example/jwks"',
    );
    expect(error.message).not.toContain('S3cr3t');
  });
});

describe('a store that forgets before the guard stops accepting', () => {
  it('is refused at construction, with the tolerance to set', () => {
    const error = configurationError(() =>
      construct({
        keys: keys.ES256.jwk,
        clockToleranceSeconds: 60,
        store: createMemoryStore({ clockToleranceSeconds: 5 }),
      }),
    );
    expect(error.message).toBe(
      '"store" keeps entries 5 s past expiry, but the guard accepts tokens up to 60 s past exp; create the store with clockToleranceSeconds: 60',
    );
  });

  it('is accepted when the store keeps entries at least as long', () => {
    expect(() =>
      construct({
        keys: keys.ES256.jwk,
        clockToleranceSeconds: 60,
        store: createMemoryStore({ clockToleranceSeconds: 60 }),
      }),
    ).not.toThrow();
  });
});
