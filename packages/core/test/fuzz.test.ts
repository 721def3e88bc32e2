import fc from 'fast-check';
import { createGuard, extractToken, isJwtGuardError, type GuardEvent } from '@jwt-guard/core';
import {
  b64url,
  bearerRequest,
  createEventRecorder,
  createTestClock,
  createTokenFactory,
  refusalOf,
  testKeys,
  type TestAlgorithm,
} from '@jwt-guard/testkit';

// DESIGN "Tests and CI": a mutated token is never accepted and never produces a 5xx or an
// untyped error. Seeds are random on purpose; fast-check prints seed and path on failure.

const issuer = 'https://issuer.example/';
const audience = 'https://api.example/';
const keys = testKeys();
const clock = createTestClock();
const algorithms: readonly TestAlgorithm[] = ['RS256', 'ES256', 'EdDSA', 'HS256'];
const events = createEventRecorder<GuardEvent>();
// Static keys and the verified-token cache on, so a mutation that hit a cached original's
// entry would be accepted here.
const guard = createGuard({
  issuer,
  audience,
  clock,
  algorithms: [...algorithms],
  keys: [keys.RS256.jwk, keys.ES256.jwk, keys.EdDSA.jwk, keys.HS256.verificationKey],
  cache: { maxEntries: 1000 },
  onEvent: events.listener,
});
const mint = createTokenFactory({ issuer, audience, clock });
const originals = algorithms.map((alg) => mint.sign(keys[alg], { scope: 'read:items' }));
const isOriginal = (token: string): boolean => originals.includes(token);

const runs = { numRuns: 300, plugins: [fc.timeout(5000)] };

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const base64urlChar = fc.constantFrom(...BASE64URL);
// Characters a sloppy decoder skips or maps: padding, the standard alphabet, whitespace, NUL.
const character = fc.oneof(
  base64urlChar,
  fc.constantFrom('.', '=', '+', '/', ' ', '\t', '\n', '\r', '\u0000', '%', '~', '\u00e9'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);

async function expectRefused(token: string): Promise<void> {
  for (const attempt of [
    () => guard.verify(token),
    () => guard.authenticate(bearerRequest(token)),
  ]) {
    const error = await refusalOf(attempt());
    expect(isJwtGuardError(error)).toBe(true);
    expect([400, 401]).toContain(error.status);
    // The guard turns an unexpected exception into ERR_TOKEN_MALFORMED with the exception as
    // `cause`; with static keys no refusal has a cause, so one here is a crash it papered over.
    expect(error.cause).toBeUndefined();
  }
}

async function expectOriginalsStillAccepted(): Promise<void> {
  for (const token of originals) {
    await expect(guard.verify(token)).resolves.toMatchObject({ token, issuer });
  }
}

function segments(token: string): [string, string, string] {
  return token.split('.') as [string, string, string];
}

function decodeJson(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
}

type MemberEdit = { readonly name: string; readonly value: unknown };

// `undefined` removes the member; defineProperty keeps `__proto__` an ordinary member.
function applyEdits(object: Record<string, unknown>, edits: readonly MemberEdit[]): object {
  const copy: Record<string, unknown> = { ...object };
  for (const { name, value } of edits) {
    if (value === undefined) delete copy[name];
    else
      Object.defineProperty(copy, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return copy;
}

function memberEdit(name: string, value: fc.Arbitrary<unknown>): fc.Arbitrary<MemberEdit> {
  return fc.record({ name: fc.constant(name), value: fc.option(value, { nil: undefined }) });
}

const original = fc.constantFrom(...originals);

beforeAll(async () => {
  for (const token of originals) await guard.verify(token);
  expect(events.ofType('token.accepted')).toHaveLength(originals.length);
});

// No cache poisoning: the originals still verify (from the cache), and nothing else was
// ever accepted.
afterEach(async () => {
  await expectOriginalsStillAccepted();
  const jtis = originals.map((token) => decodeJson(segments(token)[1]).jti);
  const accepted = events.ofType('token.accepted');
  expect(accepted.filter((event) => !jtis.includes(event.jti))).toEqual([]);
  expect(accepted.slice(-originals.length).map((event) => event.cached)).toEqual(
    originals.map(() => true),
  );
});

describe('a mutated token is never accepted', () => {
  it('with bits flipped in the decoded bytes of any segment', async () => {
    const flipped = fc
      .record({
        token: original,
        segment: fc.constantFrom(0 as const, 1 as const, 2 as const),
        flips: fc.array(fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
      })
      .map(({ token, segment, flips }) => {
        const parts = segments(token);
        const bytes = Buffer.from(parts[segment], 'base64url');
        for (const { at, bit } of flips) bytes[at % bytes.length]! ^= 1 << bit;
        parts[segment] = b64url(bytes);
        return parts.join('.');
      })
      .filter((token) => !isOriginal(token));
    await fc.assert(fc.asyncProperty(flipped, expectRefused), runs);
  });

  // Character-level edits reach what byte flips cannot: non-canonical base64url (unused
  // bits of the last character, RFC 4648 §3.5), padding, separators, non-ASCII.
  it('with characters replaced, inserted or deleted anywhere', async () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: character }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        text: fc.string({ unit: character, minLength: 1, maxLength: 8 }),
      }),
      fc.record({
        kind: fc.constant('delete' as const),
        at: fc.nat(),
        length: fc.integer({ min: 1, max: 8 }),
      }),
    );
    const edited = fc
      .tuple(original, fc.array(edit, { minLength: 1, maxLength: 3 }))
      .map(([token, edits]) =>
        edits.reduce((text, change) => {
          const at = change.at % (text.length + 1);
          switch (change.kind) {
            case 'replace':
              return text.slice(0, at) + change.text + text.slice(at + 1);
            case 'insert':
              return text.slice(0, at) + change.text + text.slice(at);
            case 'delete':
              return text.slice(0, at) + text.slice(at + change.length);
          }
        }, token),
      )
      .filter((token) => !isOriginal(token));
    await fc.assert(fc.asyncProperty(edited, expectRefused), runs);
  });

  it('with segments swapped, duplicated, dropped or taken from another token', async () => {
    const pool = originals.flatMap(segments);
    const shuffled = fc
      .oneof(
        fc
          .tuple(original, fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 5 }))
          .map(([token, order]) => order.map((i) => segments(token)[i]).join('.')),
        fc
          .array(fc.constantFrom(...pool), { minLength: 1, maxLength: 5 })
          .map((parts) => parts.join('.')),
      )
      .filter((token) => !isOriginal(token));
    await fc.assert(fc.asyncProperty(shuffled, expectRefused), runs);
  });

  // Algorithm confusion (alg none in any casing, HS256 over a public key), kid injection,
  // `crit`, `b64: false`, embedded keys: each header rewrite keeps the original signature.
  it('with the header rewritten and the original signature kept', async () => {
    const kids = algorithms.map((alg) => keys[alg].kid);
    const headerEdit = fc.oneof(
      memberEdit(
        'alg',
        fc.oneof(
          fc.constantFrom('none', 'None', 'NONE', 'nOnE', '', ...algorithms),
          fc.constantFrom('HS384', 'HS512', 'RS512', 'PS256', 'ES384', 'ES256K', 'Ed25519'),
          fc.string(),
          fc.jsonValue(),
        ),
      ),
      memberEdit(
        'kid',
        fc.oneof(
          fc.constantFrom(...kids, '', '../../dev/null', "x' OR '1'='1"),
          fc.string(),
          fc.jsonValue(),
        ),
      ),
      memberEdit(
        'typ',
        fc.oneof(
          fc.constantFrom('JWT', 'jwt', 'at+jwt', 'application/at+jwt', 'AT+JWT', 'dpop+jwt'),
          fc.string(),
          fc.jsonValue(),
        ),
      ),
      memberEdit('crit', fc.oneof(fc.constantFrom(['exp'], ['b64'], [], ['crit']), fc.jsonValue())),
      memberEdit('b64', fc.oneof(fc.boolean(), fc.jsonValue())),
      memberEdit('jku', fc.constant('https://attacker.example/jwks.json')),
      memberEdit('x5u', fc.constant('https://attacker.example/cert.pem')),
      memberEdit('jwk', fc.constant(keys.ES256.jwk)),
      fc.record({ name: fc.string(), value: fc.jsonValue() }),
    );
    const rewritten = fc
      .record({
        token: original,
        edits: fc.array(headerEdit, { minLength: 1, maxLength: 4 }),
        indent: fc.constantFrom(undefined, 1),
      })
      .map(({ token, edits, indent }) => {
        const [header, payload, signature] = segments(token);
        const json = JSON.stringify(applyEdits(decodeJson(header), edits), null, indent);
        return [b64url(json), payload, signature].join('.');
      })
      .filter((token) => !isOriginal(token));
    await fc.assert(fc.asyncProperty(rewritten, expectRefused), runs);
  });

  it('with the claims rewritten and the original signature kept', async () => {
    const numericDate = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.constantFrom(1e308, -1, 0, clock.nowSeconds() + 3600),
      fc.string(),
    );
    const claimEdit = fc.oneof(
      memberEdit(
        'iss',
        fc.oneof(fc.constantFrom(issuer, [issuer], `${issuer}x`, ''), fc.jsonValue()),
      ),
      memberEdit(
        'aud',
        fc.oneof(fc.constantFrom(audience, [audience], ['x', audience]), fc.jsonValue()),
      ),
      memberEdit('sub', fc.oneof(fc.constantFrom('admin', ''), fc.jsonValue())),
      memberEdit('exp', numericDate),
      memberEdit('iat', numericDate),
      memberEdit('nbf', numericDate),
      memberEdit('scope', fc.oneof(fc.constantFrom('admin', 'read:items admin'), fc.jsonValue())),
      memberEdit('jti', fc.jsonValue()),
      memberEdit('client_id', fc.jsonValue()),
      fc.record({ name: fc.string(), value: fc.jsonValue() }),
    );
    const payloadText = fc.oneof(
      fc
        .tuple(original, fc.array(claimEdit, { minLength: 1, maxLength: 4 }))
        .map(([token, edits]) => ({
          token,
          text: JSON.stringify(applyEdits(decodeJson(segments(token)[1]), edits)),
        })),
      // Not an object at all: an array, a string, null, a number.
      fc.tuple(original, fc.jsonValue()).map(([token, value]) => ({
        token,
        text: JSON.stringify(value) ?? 'null',
      })),
      // A duplicate member appended to the original text: two parsers may pick different ones.
      fc
        .tuple(original, fc.constantFrom('sub', 'iss', 'aud', 'exp', 'scope'), fc.jsonValue())
        .map(([token, name, value]) => {
          const text = Buffer.from(segments(token)[1], 'base64url').toString('utf8');
          return {
            token,
            text: `${text.slice(0, -1)},${JSON.stringify(name)}:${JSON.stringify(value)}}`,
          };
        }),
    );
    const rewritten = payloadText
      .map(({ token, text }) => {
        const [header, , signature] = segments(token);
        return [header, b64url(text), signature].join('.');
      })
      .filter((token) => !isOriginal(token));
    await fc.assert(fc.asyncProperty(rewritten, expectRefused), runs);
  });

  it('when it is any string at all', async () => {
    const garbage = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: fc.oneof(base64urlChar, fc.constant('.')), maxLength: 200 }),
    );
    await fc.assert(fc.asyncProperty(garbage, expectRefused), runs);
  });
});

describe('Authorization header parsing', () => {
  const scheme = fc.oneof(
    fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'DPoP', 'Bearer:', ''),
    fc.string({ maxLength: 10 }),
  );
  const spaces = fc.string({
    unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0'),
    maxLength: 3,
  });
  const credentials = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.string({ unit: character, maxLength: 100 }),
    original,
  );
  const header = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.tuple(spaces, scheme, spaces, credentials, spaces).map((parts) => parts.join('')),
  );
  const policy: Parameters<typeof extractToken>[1] = {
    header: true,
    query: false,
    cookie: undefined,
    maxTokenBytes: 8192,
  };

  it('extractToken returns a string or throws a JwtGuardError, nothing else', () => {
    fc.assert(
      fc.property(header, (value) => {
        let token: unknown;
        try {
          token = extractToken(
            { method: 'GET', url: '/', headers: ['Authorization', value] },
            policy,
          );
        } catch (error) {
          expect(isJwtGuardError(error)).toBe(true);
          expect([400, 401]).toContain((error as { status: number }).status);
          return;
        }
        expect(typeof token).toBe('string');
        expect(value).toContain(token);
      }),
      { numRuns: 500 },
    );
  });

  it('a request with any Authorization headers is refused with a JwtGuardError', async () => {
    const headers = fc
      .array(
        fc.tuple(
          fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION', 'Cookie', 'X-Token'),
          header,
        ),
        { minLength: 1, maxLength: 3 },
      )
      .map((pairs) => pairs.flat())
      // Any request that carries an original token may be a valid one; those are covered above.
      .filter((flat) => !originals.some((token) => flat.some((value) => value.includes(token))));
    await fc.assert(
      fc.asyncProperty(headers, async (list) => {
        const error = await refusalOf(
          guard.authenticate({ method: 'GET', url: '/', headers: list }),
        );
        expect(isJwtGuardError(error)).toBe(true);
        expect([400, 401]).toContain(error.status);
        expect(error.cause).toBeUndefined();
      }),
      runs,
    );
  });
});
