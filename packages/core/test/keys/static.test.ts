// Keys given in configuration are checked at construction: one that cannot verify safely (too
// weak, or public key material offered as an HMAC secret) is a ConfigurationError at startup.
import { createGuard, type GuardOptions } from '@jwt-guard/core';
import { createTestClock, createTestKey, testKeys } from '@jwt-guard/testkit';

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const keys = testKeys();
const clock = createTestClock();

function guardWith(options: Partial<GuardOptions> = {}) {
  return createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
    keys: [keys.ES256.jwk, keys.RS256.jwk, keys.EdDSA.jwk],
    ...options,
  });
}

describe('HS256 signed with the public key as the HMAC secret (CVE-2016-10555 class)', () => {
  describe.each([keys.RS256, keys.ES256])('public key of $alg', (key) => {
    it('a public key with only HS256 allowed is a configuration error, not an HMAC secret', () => {
      expect(() => guardWith({ keys: key.publicPem as string, algorithms: ['HS256'] })).toThrow(
        expect.objectContaining({ name: 'ConfigurationError' }),
      );
    });
  });
});

describe('signature encodings and weak keys', () => {
  describe('RSA under 2048 bits', () => {
    const weak = createTestKey('RS256', { kid: 'weak-1024', rsaBits: 1024 });

    it.each([
      ['JWK', weak.jwk],
      ['PEM', weak.publicPem as string],
      ['KeyObject', weak.verificationKey],
    ])('as a static %s → ConfigurationError at construction', (_form, key) => {
      expect(() => guardWith({ keys: key as GuardOptions['keys'] })).toThrow(
        expect.objectContaining({
          name: 'ConfigurationError',
          message: expect.stringContaining('2048'),
        }),
      );
    });
  });
});
