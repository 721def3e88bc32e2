// Canonical base64url (RFC 4648 §5, §3.5) in every segment of a compact JWS: each byte string
// has exactly one accepted encoding, and it decodes to exactly the bytes that were signed.
import fc from 'fast-check';
import { createGuard, isJwtGuardError, type GuardEvent } from '@jwt-guard/core';
import {
  createEventRecorder,
  refusalOf,
  replaceSegment,
  type TestAlgorithm,
} from '@jwt-guard/testkit';
import {
  AUDIENCE as audience,
  ISSUER as issuer,
  clock,
  expectRefusal,
  guardWith,
  keys,
  mint,
} from './token-refusal.js';

const runs = { numRuns: 300, plugins: [fc.timeout(5000)] };

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const base64urlChar = fc.constantFrom(...BASE64URL);
// Characters a sloppy decoder skips or maps: padding, the standard alphabet, whitespace, NUL.
const character = fc.oneof(
  base64urlChar,
  fc.constantFrom('.', '=', '+', '/', ' ', '\t', '\n', '\r', '\u0000', '%', '~', '\u00e9'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);

function segments(token: string): [string, string, string] {
  return token.split('.') as [string, string, string];
}

function decodeJson(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('compact serialization is strict (RFC 7515 §7.1, RFC 4648 §5)', () => {
  const guard = guardWith();

  // Mints tokens (varying a header member and a claim; ES256 signatures are randomized)
  // until one segment has the property a variant needs.
  function tokenWhere(segment: 0 | 1 | 2, wanted: (text: string) => boolean): string {
    for (let n = 0; n < 500; n++) {
      // '>>>' and '???' encode to '-' and '_' once aligned on a 3-byte boundary.
      const text = `${'x'.repeat(n % 3)}>>>???`;
      const token = mint.sign(keys.ES256, { n: text }, { header: { n: text } });
      if (wanted(token.split('.')[segment] as string)) return token;
    }
    throw new Error('no token with the wanted segment');
  }

  const unaligned = (text: string): boolean => text.length % 4 !== 0;
  const variants: [string, (text: string) => boolean, (text: string) => string][] = [
    ['padding', unaligned, (t) => t + '='.repeat(4 - (t.length % 4))],
    ['+ and / for - and _', (t) => /[-_]/.test(t), (t) => t.replace(/-/g, '+').replace(/_/g, '/')],
    ['a space inside', () => true, (t) => `${t.slice(0, 4)} ${t.slice(4)}`],
    ['a newline inside', () => true, (t) => `${t.slice(0, 4)}\n${t.slice(4)}`],
    [
      'non-zero unused trailing bits',
      unaligned,
      (t) => {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        return t.slice(0, -1) + alphabet[alphabet.indexOf(t.slice(-1)) | 1];
      },
    ],
  ];

  describe.each([
    ['header', 0],
    ['payload', 1],
    ['signature', 2],
  ] as const)('%s segment', (_name, segment) => {
    it.each(variants)('with %s → ERR_TOKEN_MALFORMED', async (_variant, wanted, alter) => {
      const token = tokenWhere(segment, wanted);
      await expect(guard.verify(token)).resolves.toBeDefined();
      const original = token.split('.')[segment] as string;
      const altered = alter(original);
      // Node's decoder reads both to the same bytes: only a strict decoder tells them apart.
      expect(Buffer.from(altered, 'base64url')).toEqual(Buffer.from(original, 'base64url'));
      await expectRefusal(
        guard.verify(replaceSegment(token, segment, altered)),
        'ERR_TOKEN_MALFORMED',
      );
    });
  });
});

// RFC 4648 §5 with the §3.5 canonical rule, written as plainly as possible: the reference the
// guard's one-pass decoder must agree with on every string.
function isCanonicalReference(segment: string): boolean {
  if (!/^[A-Za-z0-9_-]*$/.test(segment) || segment.length % 4 === 1) return false;
  const unusedBits = [0, 0, 4, 2][segment.length % 4] as number;
  const last = BASE64URL.indexOf(segment.slice(-1));
  return unusedBits === 0 || (last & ((1 << unusedBits) - 1)) === 0;
}

describe('base64url segments', () => {
  // fuzz.test.ts's setup: static keys and the verified-token cache on, so a mutation that hit
  // a cached original's entry would be accepted, which afterEach would see.
  const algorithms: readonly TestAlgorithm[] = ['RS256', 'ES256', 'EdDSA', 'HS256'];
  const events = createEventRecorder<GuardEvent>();
  const guard = createGuard({
    issuer,
    audience,
    clock,
    algorithms: [...algorithms],
    keys: [keys.RS256.jwk, keys.ES256.jwk, keys.EdDSA.jwk, keys.HS256.verificationKey],
    cache: { maxEntries: 1000 },
    onEvent: events.listener,
  });
  const originals = algorithms.map((alg) => mint.sign(keys[alg], { scope: 'read:items' }));

  beforeAll(async () => {
    for (const token of originals) await guard.verify(token);
    expect(events.ofType('token.accepted')).toHaveLength(originals.length);
  });

  // No cache poisoning: the originals still verify (from the cache), and nothing else was
  // ever accepted.
  afterEach(async () => {
    for (const token of originals) {
      await expect(guard.verify(token)).resolves.toMatchObject({ token, issuer });
    }
    const jtis = originals.map((token) => decodeJson(segments(token)[1]).jti);
    const accepted = events.ofType('token.accepted');
    expect(accepted.filter((event) => !jtis.includes(event.jti))).toEqual([]);
    expect(accepted.slice(-originals.length).map((event) => event.cached)).toEqual(
      originals.map(() => true),
    );
  });

  const [header, payload] = segments(originals[1] as string);

  it('a signature segment is refused as malformed exactly when it is not canonical base64url', async () => {
    const signature = fc.oneof(
      fc.string({ unit: base64urlChar, minLength: 1, maxLength: 90 }),
      fc.string({ unit: character, minLength: 1, maxLength: 90 }).filter((s) => !s.includes('.')),
    );
    await fc.assert(
      fc.asyncProperty(signature, async (sig) => {
        const error = await refusalOf(guard.verify(`${header}.${payload}.${sig}`));
        expect(error.code).toBe(
          isCanonicalReference(sig) ? 'ERR_SIGNATURE_INVALID' : 'ERR_TOKEN_MALFORMED',
        );
      }),
      { ...runs, numRuns: 2000 },
    );
  });

  it('a payload segment decodes to exactly the bytes that were signed', async () => {
    const payloadGuard = createGuard({
      issuer,
      audience,
      clock,
      keys: keys.ES256.jwk,
      cache: false,
    });
    const claims = fc.dictionary(
      fc.string({ unit: base64urlChar, minLength: 1, maxLength: 8 }),
      fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer()),
      { maxKeys: 6 },
    );
    await fc.assert(
      fc.asyncProperty(claims, async (extra) => {
        const token = mint.sign(keys.ES256, { ...extra, scope: 'read:items' });
        // A guard of its own: the shared one must accept nothing but the originals.
        const auth = await payloadGuard.verify(token).catch((error: unknown) => error);
        const signed = decodeJson(segments(token)[1]);
        if (isJwtGuardError(auth)) {
          // Lone surrogates and duplicate-looking names are refused on purpose, never garbled.
          expect(['ERR_CLAIM_INVALID', 'ERR_TOKEN_MALFORMED']).toContain(auth.code);
          return;
        }
        expect((auth as { claims: unknown }).claims).toEqual(signed);
      }),
      runs,
    );
  });
});
