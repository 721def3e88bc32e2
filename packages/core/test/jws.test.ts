// The three steps of compact JWS verification: decoding (RFC 7515 §7.1), the protected
// header (RFC 7515 §4.1.11, RFC 7797), and the signature over the keys a source selects.
import type { KeySource, VerificationKey } from '@jwt-guard/core';
import { b64url, bearerRequest, refusalOf, replaceSegment } from '@jwt-guard/testkit';
import { keys, clock, mint, guardWith, expectRefusal } from './token-refusal.js';

const now = clock.nowSeconds();

describe('compact serialization is strict (RFC 7515 §7.1, RFC 4648 §5)', () => {
  const guard = guardWith();

  it.each([
    ['two segments', (t: string) => t.slice(0, t.lastIndexOf('.'))],
    ['four segments', (t: string) => `${t}.${t.split('.')[2]}`],
    ['five segments (JWE shape)', (t: string) => `${t}.AAAA.AAAA`],
    ['an empty header', (t: string) => replaceSegment(t, 0, '')],
    ['an empty payload', (t: string) => replaceSegment(t, 1, '')],
    ['one segment', (t: string) => t.replace(/\./g, '')],
  ])('%s → ERR_TOKEN_MALFORMED', async (_name, alter) => {
    await expectRefusal(guard.verify(alter(mint.sign(keys.ES256))), 'ERR_TOKEN_MALFORMED');
  });

  it('a token over 8 KiB is refused before parsing (its header is not even JSON)', async () => {
    const garbageOfLength = (length: number): string => {
      const head = b64url('{not json');
      return `${head}.${'A'.repeat(length - head.length - 6)}.AAAA`;
    };
    expect(garbageOfLength(8193)).toHaveLength(8193);
    await expectRefusal(guard.verify(garbageOfLength(8193)), 'ERR_TOKEN_TOO_LARGE');
    await expectRefusal(
      guard.authenticate(bearerRequest(garbageOfLength(100_000))),
      'ERR_TOKEN_TOO_LARGE',
    );
    // At the limit the same text is parsed, and found malformed.
    await expectRefusal(guard.verify(garbageOfLength(8192)), 'ERR_TOKEN_MALFORMED');
  });
});

describe('crit and b64 (RFC 7515 §4.1.11, RFC 7797)', () => {
  const guard = guardWith();

  it.each([
    ['crit naming a claim', { crit: ['exp'], exp: now + 60 }],
    ['crit empty', { crit: [] }],
    ['crit with b64 false', { crit: ['b64'], b64: false }],
    ['b64 false alone', { b64: false }],
    ['b64 as a string', { b64: 'false' }],
  ])('%s → ERR_HEADER_INVALID', async (_name, header) => {
    await expectRefusal(guard.verify(mint.sign(keys.ES256, {}, { header })), 'ERR_HEADER_INVALID');
  });
});

describe('a custom keySource that hands out no usable key', () => {
  const token = mint.sign(keys.ES256);
  const guardOver = (select: KeySource['select']) =>
    guardWith({
      keys: undefined,
      keySource: { select, has: () => true, hydrate: () => Promise.resolve() },
    });
  // Custom sources may answer synchronously or with a promise; both must be held to the rules.
  const answers: [string, (value: unknown) => ReturnType<KeySource['select']>][] = [
    ['synchronously', (value) => value as VerificationKey[]],
    ['asynchronously', (value) => Promise.resolve(value as VerificationKey[])],
  ];

  describe.each(answers)('answering %s', (_how, answer) => {
    it.each([
      ['[]', []],
      ['undefined', undefined],
      ['null', null],
    ])('with %s → ERR_KEY_NOT_FOUND', async (_name, value) => {
      const error = await refusalOf(guardOver(() => answer(value)).verify(token));
      expect(error.cause).toBeUndefined();
      expect({ code: error.code, status: error.status }).toEqual({
        code: 'ERR_KEY_NOT_FOUND',
        status: 401,
      });
    });

    // A defective source reads as "no key verified", never as a crash relabelled by the
    // guard's safety net (a TypeError in `cause`).
    it.each([
      ['[undefined]', [undefined]],
      ['[null]', [null]],
      ['[{}] (no verify method)', [{}]],
    ])('with %s → ERR_SIGNATURE_INVALID, no TypeError inside', async (_name, value) => {
      const error = await refusalOf(guardOver(() => answer(value)).verify(token));
      expect(error.cause).toBeUndefined();
      expect({ code: error.code, status: error.status }).toEqual({
        code: 'ERR_SIGNATURE_INVALID',
        status: 401,
      });
    });

    // A JavaScript user who writes `async verify()` hands core a Promise: truthy, whatever
    // it resolves to. Only a literal `true` may count as a verified signature.
    it('with a key whose verify returns a Promise of false → never accepted', async () => {
      const asyncKey = {
        kid: keys.ES256.kid,
        algorithms: ['ES256'],
        verify: () => Promise.resolve(false),
      };
      await expectRefusal(
        guardOver(() => answer([asyncKey])).verify(token),
        'ERR_SIGNATURE_INVALID',
      );
    });
  });

  // DESIGN.md: a key-source outage is a 503, never a 401 and never a 500, also when the
  // source is the user's own (a secrets manager whose client throws a plain Error).
  it.each([
    [
      'throwing',
      () => {
        throw new Error('secrets manager unreachable');
      },
    ],
    ['rejecting', () => Promise.reject(new Error('secrets manager unreachable'))],
  ])('%s a plain Error → 503 ERR_KEYS_UNAVAILABLE', async (_how, select) => {
    const error = await refusalOf(guardOver(select).verify(token));
    expect({ code: error.code, status: error.status, headers: error.headers }).toEqual({
      code: 'ERR_KEYS_UNAVAILABLE',
      status: 503,
      headers: {},
    });
  });
});
