// The JSON texts of the header and the claims set: one object (RFC 7519 §7.2), no duplicate
// member names (RFC 7515 §5.2, RFC 7519 §4), bounded nesting, UTF-8 (RFC 8259 §8.1).

import { b64url, signBytes, signRaw } from '@jwt-guard/testkit';
import { keys, guardWith, expectRefusal, claimsJson } from './token-refusal.js';

describe('the payload must be a JSON object', () => {
  const guard = guardWith();
  const header = JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: keys.ES256.kid });
  const sign = (payload: string): string =>
    signRaw(header, payload, { alg: 'ES256', key: keys.ES256.signingKey });

  it.each([
    ['an array of claims', `[${claimsJson()}]`],
    ['an empty array', '[]'],
    ['null', 'null'],
    ['a number', '42'],
    ['a string', JSON.stringify(claimsJson())],
    ['true', 'true'],
    ['empty', ''],
    ['not JSON', '{"iss":'],
  ])('%s → ERR_TOKEN_MALFORMED', async (_name, payload) => {
    await expectRefusal(guard.verify(sign(payload)), 'ERR_TOKEN_MALFORMED');
  });

  it('bytes that are not UTF-8 → ERR_TOKEN_MALFORMED', async () => {
    const input = `${b64url(header)}.${b64url(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))}`;
    const token = `${input}.${b64url(signBytes('ES256', keys.ES256.signingKey, input))}`;
    await expectRefusal(guard.verify(token), 'ERR_TOKEN_MALFORMED');
  });
});

describe('duplicate JSON members and nesting depth (RFC 7515 §5.2, RFC 7519 §4)', () => {
  const guard = guardWith();
  const es256 = { alg: 'ES256', key: keys.ES256.signingKey };
  const header = JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: keys.ES256.kid });
  const claims = claimsJson().slice(1, -1);

  it.each([
    ['two alg', `{"alg":"none","alg":"ES256","kid":"${keys.ES256.kid}"}`],
    ['alg and \\u0061lg', `{"alg":"ES256","\\u0061lg":"ES256","kid":"${keys.ES256.kid}"}`],
    ['two kid', `{"alg":"ES256","kid":"x","kid":"${keys.ES256.kid}"}`],
  ])('header with %s → ERR_TOKEN_MALFORMED', async (_name, raw) => {
    await expectRefusal(guard.verify(signRaw(raw, claimsJson(), es256)), 'ERR_TOKEN_MALFORMED');
  });

  it.each([
    ['two sub', `{"sub":"admin",${claims}}`],
    ['sub and \\u0073ub', `{"\\u0073ub":"admin",${claims}}`],
    ['two aud', `{"aud":"https://other.example/",${claims}}`],
    ['a duplicate inside a nested object', `{${claims},"ext":{"role":"user","role":"admin"}}`],
  ])('payload with %s → ERR_TOKEN_MALFORMED', async (_name, raw) => {
    await expectRefusal(guard.verify(signRaw(header, raw, es256)), 'ERR_TOKEN_MALFORMED');
  });

  it('the same member name in sibling objects is not a duplicate', async () => {
    const raw = `{${claims},"a":{"role":"user"},"b":{"role":"admin"}}`;
    await expect(guard.verify(signRaw(header, raw, es256))).resolves.toBeDefined();
  });

  // The claims object is depth 1; `x` adds `levels` arrays below it.
  const nested = (levels: number): string =>
    `{${claims},"x":${'['.repeat(levels)}${']'.repeat(levels)}}`;

  it('nesting up to maxJsonDepth (16) is accepted, one deeper is malformed', async () => {
    await expect(guard.verify(signRaw(header, nested(15), es256))).resolves.toBeDefined();
    await expectRefusal(guard.verify(signRaw(header, nested(16), es256)), 'ERR_TOKEN_MALFORMED');
    await expectRefusal(guard.verify(signRaw(header, nested(1000), es256)), 'ERR_TOKEN_MALFORMED');
  });

  it('a deep header is malformed too, and maxJsonDepth is configurable', async () => {
    const deepHeader = `{"alg":"ES256","kid":"${keys.ES256.kid}","x":${'{"a":'.repeat(16)}1${'}'.repeat(16)}}`;
    await expectRefusal(
      guard.verify(signRaw(deepHeader, claimsJson(), es256)),
      'ERR_TOKEN_MALFORMED',
    );
    const shallow = guardWith({ maxJsonDepth: 3 });
    await expect(shallow.verify(signRaw(header, nested(2), es256))).resolves.toBeDefined();
    await expectRefusal(shallow.verify(signRaw(header, nested(3), es256)), 'ERR_TOKEN_MALFORMED');
  });
});
