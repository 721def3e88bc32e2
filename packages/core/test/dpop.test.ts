import {
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import fc from 'fast-check';
import { calculateJwkThumbprint, type JWK } from 'jose';
import {
  ConfigurationError,
  describeError,
  createGuard,
  createMemoryStore,
  defineRequirement,
  isJwtGuardError,
  mergeRequirements,
  type Guard,
  type GuardEvent,
  type GuardOptions,
  type GuardRequest,
  type TokenStore,
} from '@jwt-guard/core';
import {
  createDpopKey,
  createDpopProof,
  createEventRecorder,
  createTestClock,
  createTokenFactory,
  dpopAth,
  refusalOf,
  refusalOfSync,
  signRaw,
  testKeys,
  type DpopAlgorithm,
  type DpopKey,
  type DpopProofInput,
  type Refusal,
} from '@jwt-guard/testkit';

// RFC 9449 through the public API: a guard, a request with `Authorization: DPoP` and a `DPoP`
// proof header, and the exact refusal (code, status, WWW-Authenticate) for each §4.3 and §7
// check.

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const ORIGIN = 'https://api.example';
const HTU = `${ORIGIN}/orders`;
const PROOF_ALGORITHMS = ['ES256', 'EdDSA', 'PS256'] as const;
const ALGS = 'algs="ES256 EdDSA PS256"';
const DEFAULT_ALGS = 'algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"';

const INVALID_PROOF = `DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid", ${ALGS}, Bearer`;
const MISSING_PROOF = `DPoP error="invalid_dpop_proof", error_description="A DPoP proof is required with a DPoP access token", ${ALGS}, Bearer`;
const REPLAYED_PROOF = `DPoP error="invalid_dpop_proof", error_description="The DPoP proof was already used", ${ALGS}, Bearer`;
const BINDING_TEXT =
  'error_description="The access token is not bound to the key of the DPoP proof"';
const REQUIRED_TEXT = 'error_description="This resource requires a DPoP-bound access token"';

const keys = testKeys();
const clock = createTestClock();
const START = clock.nowMs();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });

let es256: DpopKey;
let eddsa: DpopKey;
let ps256: DpopKey;
let es384: DpopKey;
let other: DpopKey;

beforeAll(async () => {
  [es256, eddsa, ps256, es384, other] = await Promise.all([
    createDpopKey('ES256'),
    createDpopKey('EdDSA'),
    createDpopKey('PS256'),
    createDpopKey('ES384'),
    createDpopKey('ES256'),
  ]);
});

beforeEach(() => clock.set(START));

function guardWith(options: Partial<GuardOptions> = {}) {
  const events = createEventRecorder<GuardEvent>();
  const guard = createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: keys.ES256.jwk,
    clock,
    onEvent: events.listener,
    dpop: { origin: ORIGIN, algorithms: [...PROOF_ALGORITHMS] },
    ...options,
  });
  return { guard, events };
}

function boundToken(key: DpopKey, extra: Record<string, unknown> = {}): string {
  return mint.sign(keys.ES256, { scope: 'read:orders', cnf: { jkt: key.thumbprint }, ...extra });
}

function proofFor(key: DpopKey, token: string, input: Partial<DpopProofInput> = {}): string {
  return createDpopProof(key, {
    htm: 'GET',
    htu: HTU,
    accessToken: token,
    iatSeconds: clock.nowSeconds(),
    ...input,
  });
}

function dpopRequest(
  token: string,
  proofs: string | readonly string[] | undefined,
  extra: { method?: string; url?: string; headers?: readonly string[]; scheme?: string } = {},
): GuardRequest {
  const list = proofs === undefined ? [] : typeof proofs === 'string' ? [proofs] : proofs;
  return {
    method: extra.method ?? 'GET',
    url: extra.url ?? '/orders',
    headers: [
      'Authorization',
      `${extra.scheme ?? 'DPoP'} ${token}`,
      ...list.flatMap((proof) => ['DPoP', proof]),
      ...(extra.headers ?? []),
    ],
  };
}

interface Expected {
  readonly code: string;
  readonly status: number;
  readonly challenge: string | undefined;
}

function outcome(error: Refusal): Expected {
  return { code: error.code, status: error.status, challenge: error.headers['WWW-Authenticate'] };
}

async function expectRefused(promise: Promise<unknown>, expected: Expected): Promise<Refusal> {
  const error = await refusalOf(promise);
  expect(outcome(error)).toEqual(expected);
  return error;
}

const invalidProof: Expected = {
  code: 'ERR_DPOP_PROOF_INVALID',
  status: 401,
  challenge: INVALID_PROOF,
};

describe('a valid DPoP request', () => {
  it.each<DpopAlgorithm>(['ES256', 'EdDSA', 'PS256'])(
    'is accepted with a %s proof for a token bound to its key',
    async (alg) => {
      const { guard } = guardWith();
      const key = { ES256: es256, EdDSA: eddsa, PS256: ps256 }[alg as 'ES256'];
      const token = boundToken(key);
      const auth = await guard.authenticate(dpopRequest(token, proofFor(key, token)));
      expect(auth.claims.cnf).toEqual({ jkt: key.thumbprint });
      expect(auth.scopes).toEqual(['read:orders']);
    },
  );

  it('still accepts plain bearer tokens in the default "allowed" mode', async () => {
    const { guard } = guardWith();
    const token = mint.sign(keys.ES256);
    await expect(
      guard.authenticate({
        method: 'GET',
        url: '/',
        headers: ['Authorization', `Bearer ${token}`],
      }),
    ).resolves.toMatchObject({ token });
  });

  it('reads the scheme case-insensitively (RFC 9110 §11.1)', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    await expect(
      guard.authenticate(dpopRequest(token, proofFor(es256, token), { scheme: 'dpop' })),
    ).resolves.toMatchObject({ token });
  });

  it('accepts a proof header given in a header object and in a WHATWG Headers', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    await expect(
      guard.authenticate({
        method: 'GET',
        url: '/orders',
        headers: { authorization: `DPoP ${token}`, dpop: proofFor(es256, token) },
      }),
    ).resolves.toMatchObject({ token });
    await expect(
      guard.authenticate({
        method: 'GET',
        url: '/orders',
        headers: new Headers({ Authorization: `DPoP ${token}`, DPoP: proofFor(es256, token) }),
      }),
    ).resolves.toMatchObject({ token });
  });

  it('challenges with every default proof algorithm when none are configured', async () => {
    const { guard } = guardWith({ dpop: { origin: ORIGIN } });
    await expectRefused(guard.authenticate({ method: 'GET', url: '/', headers: [] }), {
      code: 'ERR_TOKEN_MISSING',
      status: 401,
      challenge: `Bearer, DPoP ${DEFAULT_ALGS}`,
    });
  });

  it('puts the realm in both challenges', async () => {
    const { guard } = guardWith({ realm: 'orders' });
    const token = boundToken(es256);
    await expectRefused(guard.authenticate(dpopRequest(token, undefined)), {
      code: 'ERR_DPOP_PROOF_MISSING',
      status: 401,
      challenge: `DPoP realm="orders", error="invalid_dpop_proof", error_description="A DPoP proof is required with a DPoP access token", ${ALGS}, Bearer realm="orders"`,
    });
  });
});

describe('the proof header (RFC 9449 §4.3 checks 1–2)', () => {
  it('is required with a DPoP-bound token', async () => {
    const { guard } = guardWith();
    const error = await expectRefused(
      guard.authenticate(dpopRequest(boundToken(es256), undefined)),
      {
        code: 'ERR_DPOP_PROOF_MISSING',
        status: 401,
        challenge: MISSING_PROOF,
      },
    );
    expect(error.headers['DPoP-Nonce']).toBeUndefined();
  });

  it('refuses two DPoP headers, as raw headers and as a header object', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const one = proofFor(es256, token);
    const two = proofFor(es256, token);
    await expectRefused(guard.authenticate(dpopRequest(token, [one, two])), invalidProof);
    await expectRefused(
      guard.authenticate({
        method: 'GET',
        url: '/orders',
        headers: { authorization: `DPoP ${token}`, dpop: [one, two] },
      }),
      invalidProof,
    );
    // Node's parsed headers join a repeated unknown header with ", ".
    await expectRefused(guard.authenticate(dpopRequest(token, `${one}, ${two}`)), invalidProof);
    // Neither proof was spent by the refused requests.
    await expect(guard.authenticate(dpopRequest(token, one))).resolves.toMatchObject({ token });
  });

  it.each([
    ['empty', ''],
    ['whitespace', '   '],
    ['one segment', 'abc'],
    ['two segments', 'abc.def'],
    ['four segments', 'a.b.c.d'],
    ['not base64url', 'a+b.c/d.e=f'],
    ['a JWE', 'eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d'],
  ])('refuses a proof that is not a compact JWS: %s', async (_, proof) => {
    const { guard } = guardWith();
    await expectRefused(guard.authenticate(dpopRequest(boundToken(es256), proof)), invalidProof);
  });

  it('refuses a proof larger than 8 KiB before parsing it', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const proof = proofFor(es256, token, { claims: { pad: 'x'.repeat(9000) } });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  it('refuses the access token itself as its own proof', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    await expectRefused(guard.authenticate(dpopRequest(token, token)), invalidProof);
  });
});

describe('typ (check 4)', () => {
  it.each<[string, unknown]>([
    ['absent', undefined],
    ['JWT', 'JWT'],
    ['at+jwt', 'at+jwt'],
    ['a number', 42],
    ['dpop+jwt with a suffix', 'dpop+jwt2'],
    ['another media type', 'application/jwt'],
  ])('refuses typ %s', async (_, typ) => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const proof = proofFor(es256, token, { header: { typ } });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  // RFC 7515 §4.1.9: media types are case-insensitive, and "application/" may be omitted.
  it.each(['DPoP+JWT', 'application/dpop+jwt'])(
    'accepts typ %s, the same media type',
    async (typ) => {
      const { guard } = guardWith();
      const token = boundToken(es256);
      const proof = proofFor(es256, token, { header: { typ } });
      await expect(guard.authenticate(dpopRequest(token, proof))).resolves.toMatchObject({ token });
    },
  );
});

describe('alg (check 5)', () => {
  it('refuses an HMAC proof signed with a shared secret', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const secret = createSecretKey(randomBytes(32));
    const jwk = secret.export({ format: 'jwk' });
    const proof = proofFor(es256, token, { header: { alg: 'HS256', jwk }, signWith: secret });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  it('refuses HS256 keyed with the public JWK of the bound key (key confusion)', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const secret = createSecretKey(Buffer.from(JSON.stringify(es256.publicJwk)));
    const proof = proofFor(es256, token, { header: { alg: 'HS256' }, signWith: secret });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  it.each(['none', 'None', 'NONE'])('refuses alg %s, with or without a signature', async (alg) => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const unsigned = proofFor(es256, token, { header: { alg } });
    expect(unsigned.endsWith('.')).toBe(true);
    await expectRefused(guard.authenticate(dpopRequest(token, unsigned)), invalidProof);
    const withSignature = `${unsigned}${proofFor(es256, token).split('.')[2]}`;
    await expectRefused(guard.authenticate(dpopRequest(token, withSignature)), invalidProof);
  });

  it('refuses an asymmetric algorithm left out of the configured list', async () => {
    const { guard } = guardWith();
    const token = boundToken(es384);
    await expectRefused(
      guard.authenticate(dpopRequest(token, proofFor(es384, token))),
      invalidProof,
    );
    // The same proof passes a guard that lists ES384.
    const { guard: lenient } = guardWith({ dpop: { origin: ORIGIN, algorithms: ['ES384'] } });
    await expect(
      lenient.authenticate(dpopRequest(token, proofFor(es384, token))),
    ).resolves.toMatchObject({ token });
  });

  it('refuses an alg that does not fit the key in jwk', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    // An EC key under PS256: the signature is computed, but no RSA key is there to check it.
    const proof = proofFor(es256, token, { header: { alg: 'PS256' }, signWith: ps256.privateKey });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  it('refuses a header jwk whose own "alg" disagrees with the header', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const proof = proofFor(es256, token, { header: { jwk: { ...es256.publicJwk, alg: 'ES384' } } });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  it('refuses a crit header parameter it does not understand (RFC 7515 §4.1.11)', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const proof = proofFor(es256, token, { header: { crit: ['exp'], exp: 1 } });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });
});

describe('signature and jwk (checks 6–7)', () => {
  it('refuses a proof signed by another key than the one in its jwk', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    // The header carries the bound key, so only the signature can tell.
    const proof = proofFor(es256, token, { signWith: other.privateKey });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  it('refuses a proof whose payload was changed after signing', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const [header, , signature] = proofFor(es256, token).split('.');
    const forged = proofFor(es256, token, { claims: { htm: 'GET' } }).split('.')[1];
    await expectRefused(
      guard.authenticate(dpopRequest(token, `${header}.${forged}.${signature}`)),
      invalidProof,
    );
  });

  it('refuses an ES256 signature in DER form', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const good = proofFor(es256, token);
    const [header, payload] = good.split('.');
    const claims = Buffer.from(payload as string, 'base64url').toString();
    const der = signRaw(Buffer.from(header as string, 'base64url').toString(), claims, {
      alg: 'ES256',
      key: es256.privateKey,
      der: true,
    });
    await expectRefused(guard.authenticate(dpopRequest(token, der)), invalidProof);
  });

  it('refuses a proof without jwk, or with a jwk that is not an object', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    for (const proof of [
      proofFor(es256, token, { omit: ['jwk'] }),
      proofFor(es256, token, { header: { jwk: 'key' } }),
      proofFor(es256, token, { header: { jwk: [es256.publicJwk] } }),
      proofFor(es256, token, { header: { jwk: null } }),
    ]) {
      await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
    }
  });

  it('refuses a jwk carrying the private key (d), even though its thumbprint matches', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const privateJwk = es256.privateKey.export({ format: 'jwk' }) as JWK;
    expect(privateJwk.d).toBeDefined();
    expect(await calculateJwkThumbprint(privateJwk)).toBe(es256.thumbprint);
    const proof = proofFor(es256, token, { header: { jwk: privateJwk } });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  it.each(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'])(
    'refuses an RSA jwk with the private member %s',
    async (member) => {
      const { guard } = guardWith();
      const token = boundToken(ps256);
      const privateJwk = ps256.privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
      const jwk = { ...ps256.publicJwk, [member]: privateJwk[member] ?? [] };
      const proof = proofFor(ps256, token, { header: { jwk } });
      await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
    },
  );

  it('refuses an OKP jwk with d', async () => {
    const { guard } = guardWith();
    const token = boundToken(eddsa);
    const proof = proofFor(eddsa, token, {
      header: { jwk: eddsa.privateKey.export({ format: 'jwk' }) },
    });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  it('refuses an RSA key under 2048 bits', async () => {
    const { guard } = guardWith();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
    const weak: DpopKey = {
      alg: 'PS256',
      privateKey,
      publicJwk,
      thumbprint: await calculateJwkThumbprint(publicJwk),
    };
    const token = boundToken(weak);
    await expectRefused(
      guard.authenticate(dpopRequest(token, proofFor(weak, token))),
      invalidProof,
    );
  });

  it('refuses a jwk marked for encryption, or without "verify" in key_ops', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    for (const jwk of [
      { ...es256.publicJwk, use: 'enc' },
      { ...es256.publicJwk, key_ops: ['encrypt'] },
    ]) {
      const proof = proofFor(es256, token, { header: { jwk } });
      await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
    }
  });

  it('ignores jku, x5u and x5c in the header: only jwk names the key', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const proof = proofFor(es256, token, {
      header: { jku: 'https://attacker.example/jwks', x5u: 'https://attacker.example/c', x5c: [] },
      signWith: other.privateKey,
    });
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });
});

describe('claims (checks 3, 8–12)', () => {
  it.each<[string, Partial<DpopProofInput>]>([
    ['without jti', { omit: ['jti'] }],
    ['with a numeric jti', { claims: { jti: 42 } }],
    ['with an empty jti', { jti: '' }],
    ['with a jti over 256 characters', { jti: 'j'.repeat(257) }],
    ['without htm', { omit: ['htm'] }],
    ['with htm in lower case', { htm: 'get' }],
    ['with another method', { htm: 'POST' }],
    ['with a numeric htm', { claims: { htm: 1 } }],
    ['without htu', { omit: ['htu'] }],
    ['without iat', { omit: ['iat'] }],
    ['with a string iat', { claims: { iat: String(clock.nowSeconds()) } }],
    ['with a null iat', { claims: { iat: null } }],
    ['without ath', { omit: ['ath'] }],
    ['with the ath of another token', { accessToken: 'another.access.token' }],
    ['with a numeric ath', { claims: { ath: 1 } }],
  ])('refuses a proof %s', async (_, input) => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    await expectRefused(
      guard.authenticate(dpopRequest(token, proofFor(es256, token, input))),
      invalidProof,
    );
  });

  it('refuses ath in another encoding of the right hash (padded base64, hex)', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const hash = Buffer.from(dpopAth(token), 'base64url');
    for (const ath of [hash.toString('base64'), hash.toString('hex'), `${dpopAth(token)}=`]) {
      const proof = proofFor(es256, token, { claims: { ath } });
      await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
    }
  });

  it('refuses a payload that is not a JSON object, or has duplicate members', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const header = JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: es256.publicJwk });
    const claims = { jti: 'j', htm: 'GET', htu: HTU, iat: clock.nowSeconds(), ath: dpopAth(token) };
    const body = JSON.stringify(claims).slice(1, -1);
    for (const payload of [
      '[]',
      '"proof"',
      'null',
      `{${body},"htm":"POST"}`,
      `{"htm":"POST",${body}}`,
    ]) {
      const proof = signRaw(header, payload, { alg: 'ES256', key: es256.privateKey });
      await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
    }
  });

  it('accepts a jti of 256 characters', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const proof = proofFor(es256, token, { jti: 'j'.repeat(256) });
    await expect(guard.authenticate(dpopRequest(token, proof))).resolves.toMatchObject({ token });
  });

  it('compares htm with the request method, for every method', async () => {
    const { guard } = guardWith();
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']) {
      const token = boundToken(es256);
      const good = proofFor(es256, token, { htm: method });
      await expect(guard.authenticate(dpopRequest(token, good, { method }))).resolves.toBeDefined();
      const bad = proofFor(es256, token, { htm: 'GET' });
      await expectRefused(guard.authenticate(dpopRequest(token, bad, { method })), invalidProof);
    }
  });

  describe('iat window', () => {
    // Defaults: proofMaxAgeSeconds 60, clockToleranceSeconds 5.
    it.each([
      ['65 s old (60 + 5 tolerance)', -65, true],
      ['66 s old', -66, false],
      ['an hour old', -3600, false],
      ['5 s ahead (the tolerance)', 5, true],
      ['6 s ahead', 6, false],
      ['an hour ahead', 3600, false],
    ])('a proof issued %s: accepted %s', async (_, offset, accepted) => {
      const { guard } = guardWith();
      const token = boundToken(es256);
      const proof = proofFor(es256, token, { iatSeconds: clock.nowSeconds() + offset });
      const result = guard.authenticate(dpopRequest(token, proof));
      if (accepted) await expect(result).resolves.toMatchObject({ token });
      else await expectRefused(result, invalidProof);
    });

    it('follows proofMaxAgeSeconds and clockToleranceSeconds', async () => {
      const { guard } = guardWith({
        clockToleranceSeconds: 0,
        dpop: { origin: ORIGIN, algorithms: ['ES256'], proofMaxAgeSeconds: 10 },
      });
      const token = boundToken(es256);
      const challenge = INVALID_PROOF.replace(ALGS, 'algs="ES256"');
      await expect(
        guard.authenticate(
          dpopRequest(token, proofFor(es256, token, { iatSeconds: clock.nowSeconds() - 10 })),
        ),
      ).resolves.toBeDefined();
      for (const offset of [-11, 1]) {
        const proof = proofFor(es256, token, { iatSeconds: clock.nowSeconds() + offset });
        await expectRefused(guard.authenticate(dpopRequest(token, proof)), {
          ...invalidProof,
          challenge,
        });
      }
    });
  });
});

describe('htu (check 9)', () => {
  it.each([
    ['the configured origin and the path', HTU, '/orders'],
    ['upper-case scheme and host', 'HTTPS://API.EXAMPLE/orders', '/orders'],
    ['the default port', 'https://api.example:443/orders', '/orders'],
    ['dot segments in htu', 'https://api.example/a/b/../.././orders', '/orders'],
    ['dot segments in the request', HTU, '/a/../orders'],
    ['a percent-encoded unreserved character', 'https://api.example/%6Frders', '/orders'],
    ['lower-case percent-encoding', 'https://api.example/caf%c3%a9', '/caf%C3%A9'],
    ['a query in the request', HTU, '/orders?page=2&sort=asc'],
    ['a query and fragment in htu (ignored)', `${HTU}?page=1#top`, '/orders'],
    ['an absolute-form request target on another host', HTU, 'http://evil.example/orders?x=1'],
    ['a path starting with //', 'https://api.example//orders', '//orders'],
  ])('accepts %s', async (_, htu, url) => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    await expect(
      guard.authenticate(dpopRequest(token, proofFor(es256, token, { htu }), { url })),
    ).resolves.toMatchObject({ token });
  });

  it.each([
    ['another path', 'https://api.example/other', '/orders'],
    ['a trailing slash', 'https://api.example/orders/', '/orders'],
    ['another path case', 'https://api.example/Orders', '/orders'],
    ['http instead of https', 'http://api.example/orders', '/orders'],
    ['another port', 'https://api.example:8443/orders', '/orders'],
    ['another host', 'https://other.example/orders', '/orders'],
    ['a sub-domain', 'https://evil.api.example/orders', '/orders'],
    ['an encoded slash', 'https://api.example/%2Forders', '/orders'],
    ['a relative htu', '/orders', '/orders'],
    ['a scheme-relative htu', '//api.example/orders', '/orders'],
    ['credentials in htu', 'https://user:pw@api.example/orders', '/orders'],
    ['another scheme', 'ftp://api.example/orders', '/orders'],
    [
      'an absolute-form target on another host named in htu',
      'http://evil.example/orders',
      'http://evil.example/orders',
    ],
    [
      'a path that only looks like the origin',
      'https://api.example.evil.example/orders',
      '/orders',
    ],
    ['not a URL', 'not a url', '/orders'],
  ])('refuses %s', async (_, htu, url) => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    await expectRefused(
      guard.authenticate(dpopRequest(token, proofFor(es256, token, { htu }), { url })),
      invalidProof,
    );
  });

  it('refuses an htu that is not a string', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    for (const htu of [42, null, [HTU], { href: HTU }]) {
      const proof = proofFor(es256, token, { claims: { htu } });
      await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
    }
  });

  it('never builds htu from Host: a spoofed Host does not help', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const headers = ['Host', 'evil.example'];
    const spoofed = proofFor(es256, token, { htu: 'https://evil.example/orders' });
    await expectRefused(guard.authenticate(dpopRequest(token, spoofed, { headers })), invalidProof);
    const honest = proofFor(es256, token);
    await expect(
      guard.authenticate(dpopRequest(token, honest, { headers })),
    ).resolves.toMatchObject({ token });
  });

  it('ignores X-Forwarded-Proto and X-Forwarded-Host without trustProxy', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const headers = ['X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'evil.example'];
    const spoofed = proofFor(es256, token, { htu: 'http://evil.example/orders' });
    await expectRefused(guard.authenticate(dpopRequest(token, spoofed, { headers })), invalidProof);
    await expect(
      guard.authenticate(dpopRequest(token, proofFor(es256, token), { headers })),
    ).resolves.toMatchObject({ token });
  });

  it('accepts any of several configured origins, and only those', async () => {
    const { guard } = guardWith({
      dpop: { origin: [ORIGIN, 'https://api.example.org:8443'], algorithms: [...PROOF_ALGORITHMS] },
    });
    const token = boundToken(es256);
    for (const htu of [HTU, 'https://api.example.org:8443/orders']) {
      await expect(
        guard.authenticate(dpopRequest(token, proofFor(es256, token, { htu }))),
      ).resolves.toBeDefined();
    }
    await expectRefused(
      guard.authenticate(
        dpopRequest(token, proofFor(es256, token, { htu: 'https://api.example.org/orders' })),
      ),
      invalidProof,
    );
  });

  describe('behind a trusted proxy (trustProxy: true)', () => {
    const proxied = () =>
      guardWith({ dpop: { trustProxy: true, algorithms: [...PROOF_ALGORITHMS] } });

    it('takes the origin from X-Forwarded-Proto and X-Forwarded-Host', async () => {
      const { guard } = proxied();
      const token = boundToken(es256);
      const headers = ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'API.example:8443'];
      const proof = proofFor(es256, token, { htu: 'https://api.example:8443/orders' });
      await expect(
        guard.authenticate(dpopRequest(token, proof, { headers })),
      ).resolves.toMatchObject({ token });
    });

    it.each<[string, string[]]>([
      ['without forwarded headers (not from Host)', ['Host', 'api.example']],
      ['with only X-Forwarded-Host', ['X-Forwarded-Host', 'api.example']],
      [
        'with two X-Forwarded-Host headers',
        [
          'X-Forwarded-Proto',
          'https',
          'X-Forwarded-Host',
          'api.example',
          'X-Forwarded-Host',
          'api.example',
        ],
      ],
      [
        'with a list in X-Forwarded-Host',
        ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'api.example, evil.example'],
      ],
      [
        'with a list in X-Forwarded-Proto',
        ['X-Forwarded-Proto', 'https, http', 'X-Forwarded-Host', 'api.example'],
      ],
      ['with another scheme', ['X-Forwarded-Proto', 'ftp', 'X-Forwarded-Host', 'api.example']],
      [
        'with a path in X-Forwarded-Host',
        ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'api.example/v1'],
      ],
      [
        'with credentials in X-Forwarded-Host',
        ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'user@api.example'],
      ],
      [
        'with a query in X-Forwarded-Host',
        ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'api.example?'],
      ],
      [
        'with a backslash in X-Forwarded-Host',
        ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'api.example\\v1'],
      ],
    ])('refuses %s', async (_, headers) => {
      const { guard } = proxied();
      const token = boundToken(es256);
      // Whatever a proof names, also what the guard would build if it believed the headers.
      for (const htu of [HTU, `${ORIGIN}/`, `${ORIGIN}/v1/orders`, 'https://evil.example/orders']) {
        const proof = proofFor(es256, token, { htu });
        await expectRefused(
          guard.authenticate(dpopRequest(token, proof, { headers })),
          invalidProof,
        );
      }
    });
  });
});

describe('the binding of token and proof (§7)', () => {
  it('refuses a valid proof from another key than cnf.jkt names', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    await expectRefused(guard.authenticate(dpopRequest(token, proofFor(other, token))), {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `DPoP error="invalid_token", ${BINDING_TEXT}, ${ALGS}, Bearer`,
    });
  });

  it('refuses a DPoP-bound token presented as a bearer token, also with a valid proof', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const expected = {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `Bearer error="invalid_token", ${BINDING_TEXT}, DPoP ${ALGS}`,
    };
    for (const scheme of ['Bearer', 'bearer']) {
      await expectRefused(guard.authenticate(dpopRequest(token, undefined, { scheme })), expected);
      await expectRefused(
        guard.authenticate(dpopRequest(token, proofFor(es256, token), { scheme })),
        expected,
      );
    }
    await expectRefused(guard.verify(token), expected);
  });

  it('verifies a bound token as data, without its binding, only when asked to', async () => {
    // A revocation endpoint holding a stolen token has no proof for it, and needs none.
    const { guard, events } = guardWith();
    const token = boundToken(es256);
    const target = await guard.verify(token, { senderConstraint: 'ignore' });
    expect(target.claims.cnf).toEqual({ jkt: es256.thumbprint });
    expect(events.ofType('token.accepted')).toEqual([
      expect.objectContaining({ type: 'token.accepted', senderConstraint: 'ignored' }),
    ]);
    // Now in the verified-token cache, it is still no bearer credential.
    await expectRefused(guard.authenticate(dpopRequest(token, undefined, { scheme: 'Bearer' })), {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `Bearer error="invalid_token", ${BINDING_TEXT}, DPoP ${ALGS}`,
    });
    await expectRefused(guard.verify(token, { senderConstraint: 'refuse' }), {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `Bearer error="invalid_token", ${BINDING_TEXT}, DPoP ${ALGS}`,
    });
    // Everything but the binding is still checked.
    const tampered = `${token.slice(0, token.lastIndexOf('.') + 1)}AAAA`;
    await expectRefused(guard.verify(tampered, { senderConstraint: 'ignore' }), {
      code: 'ERR_SIGNATURE_INVALID',
      status: 401,
      challenge: `Bearer error="invalid_token", error_description="${describeError('ERR_SIGNATURE_INVALID').text}", DPoP ${ALGS}`,
    });
    await expect(guard.verify(token, { senderConstraint: 'IGNORE' as 'ignore' })).rejects.toThrow(
      ConfigurationError,
    );
  });

  it('refuses a DPoP-bound bearer token when DPoP is not configured at all', async () => {
    const { guard } = guardWith({ dpop: undefined });
    const token = boundToken(es256);
    const expected = {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `Bearer error="invalid_token", ${BINDING_TEXT}`,
    };
    await expectRefused(
      guard.authenticate(dpopRequest(token, proofFor(es256, token), { scheme: 'Bearer' })),
      expected,
    );
    await expectRefused(guard.verify(token), expected);
    // Without the option the DPoP scheme is no credential of this guard.
    await expectRefused(guard.authenticate(dpopRequest(token, proofFor(es256, token))), {
      code: 'ERR_TOKEN_MISSING',
      status: 401,
      challenge: 'Bearer',
    });
  });

  it('refuses an unbound token presented with the DPoP scheme', async () => {
    const { guard } = guardWith();
    const token = mint.sign(keys.ES256);
    await expectRefused(guard.authenticate(dpopRequest(token, proofFor(es256, token))), {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `DPoP error="invalid_token", ${BINDING_TEXT}, ${ALGS}, Bearer`,
    });
  });

  it.each<[string, unknown]>([
    ['a string', 'jkt'],
    ['an array', [{ jkt: 'x' }]],
    ['null', null],
    ['a numeric jkt', { jkt: 42 }],
    ['a numeric x5t#S256', { 'x5t#S256': 42 }],
  ])('refuses a cnf that is %s as an invalid claim', async (_, cnf) => {
    const { guard } = guardWith();
    const token = mint.sign(keys.ES256, { cnf });
    const expected = {
      code: 'ERR_CLAIM_INVALID',
      status: 401,
      challenge: `DPoP error="invalid_token", error_description="The access token has an invalid claim", ${ALGS}, Bearer`,
    };
    await expectRefused(guard.authenticate(dpopRequest(token, proofFor(es256, token))), expected);
  });

  // RFC 7800 §3.1: a token bound to a key by a method the guard cannot check must not pass as a
  // bearer token.
  it.each<[string, unknown]>([
    [
      'a jwk',
      { jwk: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' } },
    ],
    ['a kid', { kid: 'client-key-1' }],
    ['nothing', {}],
  ])('refuses a token bound by %s only, which it cannot check', async (_, cnf) => {
    const { guard } = guardWith();
    const token = mint.sign(keys.ES256, { cnf });
    await expectRefused(guard.authenticate(dpopRequest(token, undefined, { scheme: 'Bearer' })), {
      code: 'ERR_CLAIM_INVALID',
      status: 401,
      challenge: `Bearer error="invalid_token", error_description="The access token has an invalid claim", DPoP ${ALGS}`,
    });
  });

  it('refuses an empty cnf.jkt: no key has that thumbprint', async () => {
    const { guard } = guardWith();
    const token = mint.sign(keys.ES256, { cnf: { jkt: '' } });
    await expectRefused(guard.authenticate(dpopRequest(token, proofFor(es256, token))), {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `DPoP error="invalid_token", ${BINDING_TEXT}, ${ALGS}, Bearer`,
    });
  });
});

describe('proof replay (§11.1)', () => {
  const replayed: Expected = {
    code: 'ERR_DPOP_PROOF_REPLAYED',
    status: 401,
    challenge: REPLAYED_PROOF,
  };

  it('refuses a proof used twice, with the embedded store', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const proof = proofFor(es256, token);
    await guard.authenticate(dpopRequest(token, proof));
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), replayed);
  });

  it('refuses a new proof that reuses a jti', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    await guard.authenticate(dpopRequest(token, proofFor(es256, token, { jti: 'once' })));
    clock.advanceSeconds(1);
    const again = proofFor(es256, token, { jti: 'once' });
    await expectRefused(guard.authenticate(dpopRequest(token, again)), replayed);
  });

  it('keeps jtis per key: two clients may pick the same one', async () => {
    const { guard } = guardWith();
    const first = boundToken(es256);
    const second = boundToken(eddsa);
    await guard.authenticate(dpopRequest(first, proofFor(es256, first, { jti: 'shared' })));
    await expect(
      guard.authenticate(dpopRequest(second, proofFor(eddsa, second, { jti: 'shared' }))),
    ).resolves.toMatchObject({ token: second });
  });

  it('does not spend the jti of a refused proof', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const wrong = proofFor(es256, token, { jti: 'retry', htu: `${ORIGIN}/other` });
    await expectRefused(guard.authenticate(dpopRequest(token, wrong)), invalidProof);
    const right = proofFor(es256, token, { jti: 'retry' });
    await expect(guard.authenticate(dpopRequest(token, right))).resolves.toBeDefined();
  });

  it('refuses a stale replay as too old, once the window has passed', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const proof = proofFor(es256, token);
    await guard.authenticate(dpopRequest(token, proof));
    clock.advanceSeconds(66);
    await expectRefused(guard.authenticate(dpopRequest(token, proof)), invalidProof);
  });

  it('refuses a replay through a configured store, also on another guard sharing it', async () => {
    const store = createMemoryStore({ clock });
    const { guard: one } = guardWith({ store });
    const { guard: two } = guardWith({ store });
    const token = boundToken(es256);
    const proof = proofFor(es256, token);
    await one.authenticate(dpopRequest(token, proof));
    await expectRefused(one.authenticate(dpopRequest(token, proof)), replayed);
    await expectRefused(two.authenticate(dpopRequest(token, proof)), replayed);
  });

  it('keeps the proof until its window ends, not for the token lifetime', async () => {
    const consumed: { key: string; expiresAt: unknown }[] = [];
    const store: TokenStore = {
      ...createMemoryStore({ clock }),
      consumeOnce: (key, expiresAt) => {
        consumed.push({ key, expiresAt });
        return Promise.resolve(true);
      },
    };
    const { guard } = guardWith({ store });
    const token = boundToken(es256);
    const iat = clock.nowSeconds() - 10;
    await guard.authenticate(
      dpopRequest(token, proofFor(es256, token, { iatSeconds: iat, jti: 'j1' })),
    );
    expect(consumed).toHaveLength(1);
    expect(consumed[0]?.expiresAt).toBe(iat + 60 + 5 + 1);
    expect(consumed[0]?.key).toContain('j1');
    // The key names neither the token nor the proof.
    expect(consumed[0]?.key).not.toContain(token);
  });

  describe('fails closed when the store fails (503)', () => {
    const unavailable: Expected = {
      code: 'ERR_STORE_UNAVAILABLE',
      status: 503,
      challenge: undefined,
    };

    it.each<[string, TokenStore['consumeOnce']]>([
      ['rejects', () => Promise.reject(new Error('connection refused'))],
      [
        'throws synchronously',
        () => {
          throw new Error('connection refused');
        },
      ],
      ['answers neither true nor false', () => Promise.resolve(undefined as unknown as boolean)],
      ['answers synchronously with a non-promise', () => 'yes' as unknown as Promise<boolean>],
    ])('a store that %s', async (_, consumeOnce) => {
      const store: TokenStore = { ...createMemoryStore({ clock }), consumeOnce };
      for (const storeUnavailable of ['reject', 'allow'] as const) {
        const { guard, events } = guardWith({ store, storeUnavailable });
        const token = boundToken(es256);
        const error = await expectRefused(
          guard.authenticate(dpopRequest(token, proofFor(es256, token))),
          unavailable,
        );
        expect(error.headers).toEqual({});
        expect(events.ofType('store.unavailable')).toEqual([
          expect.objectContaining({ type: 'store.unavailable', allowed: false }),
        ]);
        expect(events.ofType('token.accepted')).toEqual([]);
      }
    });
  });

  it('keeps a full memory store from failing every proof, and never accepts a replay', async () => {
    const store = createMemoryStore({ clock, maxEntries: 1 });
    const { guard } = guardWith({ store });
    const token = boundToken(es256);
    const first = proofFor(es256, token);
    await guard.authenticate(dpopRequest(token, first));
    clock.advanceSeconds(1);
    // The store is full: the first proof is forgotten to hold the second, not a 503.
    await guard.authenticate(dpopRequest(token, proofFor(es256, token)));
    await expectRefused(guard.authenticate(dpopRequest(token, first)), replayed);
  });
});

describe('dpop.mode "required"', () => {
  const required = () =>
    guardWith({ dpop: { origin: ORIGIN, mode: 'required', algorithms: [...PROOF_ALGORITHMS] } });

  it('refuses a bearer token, and offers only the DPoP scheme', async () => {
    const { guard } = required();
    const token = mint.sign(keys.ES256);
    await expectRefused(
      guard.authenticate({
        method: 'GET',
        url: '/',
        headers: ['Authorization', `Bearer ${token}`],
      }),
      {
        code: 'ERR_DPOP_REQUIRED',
        status: 401,
        challenge: `DPoP error="invalid_token", ${REQUIRED_TEXT}, ${ALGS}`,
      },
    );
    await expectRefused(guard.verify(token), {
      code: 'ERR_DPOP_REQUIRED',
      status: 401,
      challenge: `DPoP error="invalid_token", ${REQUIRED_TEXT}, ${ALGS}`,
    });
  });

  it('challenges a request without a token with DPoP only', async () => {
    const { guard } = required();
    await expectRefused(guard.authenticate({ method: 'GET', url: '/', headers: [] }), {
      code: 'ERR_TOKEN_MISSING',
      status: 401,
      challenge: `DPoP ${ALGS}`,
    });
  });

  it('names other errors in the DPoP challenge, without Bearer', async () => {
    const { guard } = required();
    const token = boundToken(es256);
    await expectRefused(guard.authenticate(dpopRequest(token, undefined)), {
      code: 'ERR_DPOP_PROOF_MISSING',
      status: 401,
      challenge: `DPoP error="invalid_dpop_proof", error_description="A DPoP proof is required with a DPoP access token", ${ALGS}`,
    });
    clock.advanceSeconds(3600);
    await expectRefused(guard.authenticate(dpopRequest(token, proofFor(es256, token))), {
      code: 'ERR_TOKEN_EXPIRED',
      status: 401,
      challenge: `DPoP error="invalid_token", error_description="The access token expired", ${ALGS}`,
    });
  });

  it('accepts a DPoP-bound token with its proof', async () => {
    const { guard } = required();
    const token = boundToken(es256);
    await expect(
      guard.authenticate(dpopRequest(token, proofFor(es256, token))),
    ).resolves.toMatchObject({ token });
  });
});

describe('defineRequirement({ dpop: true })', () => {
  const requireDpop = defineRequirement({ dpop: true });

  it('refuses a bearer token on the route, and offers only DPoP there', async () => {
    const { guard } = guardWith();
    const auth = await guard.authenticate({
      method: 'GET',
      url: '/',
      headers: ['Authorization', `Bearer ${mint.sign(keys.ES256)}`],
    });
    const expected = {
      code: 'ERR_DPOP_REQUIRED',
      status: 401,
      challenge: `DPoP error="invalid_token", ${REQUIRED_TEXT}, ${ALGS}`,
    };
    expect(outcome(refusalOfSync(() => guard.authorize(auth, requireDpop)))).toEqual(expected);
    const merged = mergeRequirements(defineRequirement({}), requireDpop);
    expect(outcome(refusalOfSync(() => guard.authorize(auth, merged)))).toEqual(expected);
  });

  it('passes a DPoP-bound token that came with its proof', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const auth = await guard.authenticate(dpopRequest(token, proofFor(es256, token)));
    expect(() => guard.authorize(auth, requireDpop)).not.toThrow();
  });

  it('refuses "dpop" that is not a boolean at definition', () => {
    expect(() => defineRequirement({ dpop: 'yes' as unknown as boolean })).toThrow(
      new ConfigurationError('"dpop" must be true or false'),
    );
  });
});

describe('the verified-token cache', () => {
  it('still needs a fresh proof for a cached DPoP-bound token on every request', async () => {
    const { guard, events } = guardWith();
    const token = boundToken(es256);
    const first = proofFor(es256, token);
    await guard.authenticate(dpopRequest(token, first));
    clock.advanceSeconds(1);
    await guard.authenticate(dpopRequest(token, proofFor(es256, token)));
    expect(events.ofType('token.accepted').map((event) => event.cached)).toEqual([false, true]);

    // Each of these is answered from the cache for the token, never for the proof.
    await expectRefused(guard.authenticate(dpopRequest(token, undefined)), {
      code: 'ERR_DPOP_PROOF_MISSING',
      status: 401,
      challenge: MISSING_PROOF,
    });
    await expectRefused(guard.authenticate(dpopRequest(token, first)), {
      code: 'ERR_DPOP_PROOF_REPLAYED',
      status: 401,
      challenge: REPLAYED_PROOF,
    });
    await expectRefused(guard.authenticate(dpopRequest(token, proofFor(other, token))), {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `DPoP error="invalid_token", ${BINDING_TEXT}, ${ALGS}, Bearer`,
    });
    await expectRefused(
      guard.authenticate(dpopRequest(token, proofFor(es256, 'another.token.x'))),
      invalidProof,
    );
    await expectRefused(guard.authenticate(dpopRequest(token, undefined, { scheme: 'Bearer' })), {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `Bearer error="invalid_token", ${BINDING_TEXT}, DPoP ${ALGS}`,
    });
    expect(events.ofType('token.accepted')).toHaveLength(2);
  });

  it('never caches a proof: the same proof for a second token is checked again', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const proof = proofFor(es256, token);
    await guard.authenticate(dpopRequest(token, proof));
    const second = boundToken(es256);
    await expectRefused(guard.authenticate(dpopRequest(second, proof)), invalidProof);
  });
});

describe('audit events and error texts', () => {
  it('reports a refused DPoP request once, as rejected, never as accepted first', async () => {
    const { guard, events } = guardWith();
    const token = boundToken(es256);
    await refusalOf(guard.authenticate(dpopRequest(token, undefined)));
    await refusalOf(guard.authenticate(dpopRequest(token, proofFor(other, token))));
    expect(events.ofType('token.accepted')).toEqual([]);
    expect(events.ofType('token.rejected').map((event) => [event.code, event.requirement])).toEqual(
      [
        ['ERR_DPOP_PROOF_MISSING', 'dpop:proof'],
        ['ERR_DPOP_BINDING_MISMATCH', 'dpop:jkt'],
      ],
    );
  });

  it('puts no token, proof, thumbprint or claim in errors and events', async () => {
    const { guard, events } = guardWith();
    const token = boundToken(es256, { sub: 'alice' });
    const proofs = [
      proofFor(other, token),
      proofFor(es256, token, { htu: 'https://secret-host.example/x' }),
      proofFor(es256, token, { header: { jwk: es256.privateKey.export({ format: 'jwk' }) } }),
    ];
    const seen: string[] = [];
    for (const proof of proofs) {
      const error = await refusalOf(guard.authenticate(dpopRequest(token, proof)));
      seen.push(error.message, JSON.stringify(error.toJSON()), JSON.stringify(error.headers));
    }
    seen.push(JSON.stringify(events.events));
    const text = seen.join('\n');
    for (const secret of [token, ...proofs, es256.thumbprint, other.thumbprint, 'secret-host']) {
      expect(text).not.toContain(secret);
    }
    for (const member of ['d', 'x', 'y'] as const) {
      const value = (es256.privateKey.export({ format: 'jwk' }) as JWK)[member] as string;
      expect(text).not.toContain(value);
    }
  });
});

describe('configuration', () => {
  it.each<[string, unknown, string]>([
    ['no origin', {}, '"dpop": "origin" is required'],
    ['an origin with a path', { origin: 'https://api.example/v1' }, 'is not an origin'],
    ['an origin with a query', { origin: 'https://api.example?x' }, 'is not an origin'],
    ['a non-http origin', { origin: 'ftp://api.example' }, 'is not an origin'],
    ['an empty origin list', { origin: [] }, '"origin" must be the public origin'],
    ['origin and trustProxy', { origin: ORIGIN, trustProxy: true }, 'not both'],
    [
      'an HMAC algorithm',
      { origin: ORIGIN, algorithms: ['HS256'] },
      'is not an asymmetric algorithm',
    ],
    ['none', { origin: ORIGIN, algorithms: ['none'] }, 'is not an asymmetric algorithm'],
    ['no algorithms', { origin: ORIGIN, algorithms: [] }, '"algorithms" must be a non-empty array'],
    ['a zero proof age', { origin: ORIGIN, proofMaxAgeSeconds: 0 }, '"proofMaxAgeSeconds" must be'],
    [
      'an unknown mode',
      { origin: ORIGIN, mode: 'strict' },
      '"mode" must be "allowed" or "required"',
    ],
    ['an unknown option', { origin: ORIGIN, nonces: {} }, 'unknown option "nonces"'],
    ['not an object', 'https://api.example', 'pass an object'],
  ])('refuses %s at construction', (_, dpop, message) => {
    expect(() => guardWith({ dpop: dpop as GuardOptions['dpop'] })).toThrow(ConfigurationError);
    expect(() => guardWith({ dpop: dpop as GuardOptions['dpop'] })).toThrow(message);
  });
});

describe('RFC 7638 thumbprints agree with jose (differential)', () => {
  type KeySpec = readonly [string, DpopAlgorithm | 'ES512', () => { privateKey: KeyObject }];
  const specs: readonly KeySpec[] = [
    ['EC P-256', 'ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['EC P-384', 'ES384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['EC P-521', 'ES512', () => generateKeyPairSync('ec', { namedCurve: 'P-521' })],
    ['OKP Ed25519', 'EdDSA', () => generateKeyPairSync('ed25519')],
    ['OKP Ed448', 'EdDSA', () => generateKeyPairSync('ed448')],
    ['RSA 2048', 'RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    [
      'RSA 3072, e = 3',
      'PS256',
      () => generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 }),
    ],
  ];

  it.each(specs)('%s', async (_, alg, generate) => {
    const { guard } = guardWith({ dpop: { origin: ORIGIN } });
    const { privateKey } = generate();
    const exported = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
    // Extra members and another member order must not change the thumbprint.
    const reordered = Object.fromEntries(Object.entries(exported).reverse()) as JWK;
    const jwk: JWK = { ...reordered, kid: 'client-key', use: 'sig', key_ops: ['verify'] };
    const thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
    expect(await calculateJwkThumbprint(exported, 'sha256')).toBe(thumbprint);
    const key = { alg: alg as DpopAlgorithm, privateKey, publicJwk: jwk, thumbprint };
    const token = boundToken(key);
    await expect(
      guard.authenticate(dpopRequest(token, proofFor(key, token))),
    ).resolves.toMatchObject({ token });
    // A token bound to any other thumbprint does not take this key's proof.
    const foreign = mint.sign(keys.ES256, { cnf: { jkt: es256.thumbprint } });
    await expectRefused(guard.authenticate(dpopRequest(foreign, proofFor(key, foreign))), {
      code: 'ERR_DPOP_BINDING_MISMATCH',
      status: 401,
      challenge: `DPoP error="invalid_token", ${BINDING_TEXT}, ${DEFAULT_ALGS}, Bearer`,
    });
  });
});

// DESIGN "Tests and CI": whatever arrives as a proof is never accepted unless it is one, and
// never produces a 5xx or an untyped error. Seeds are random; fast-check prints them on failure.
describe('fuzzing the DPoP header (fast-check)', () => {
  const runs = { numRuns: 300, plugins: [fc.timeout(5000)] };

  async function expectInvalid(guard: Guard, request: GuardRequest): Promise<void> {
    const error = await refusalOf(guard.authenticate(request));
    expect(isJwtGuardError(error)).toBe(true);
    expect(outcome(error)).toEqual(invalidProof);
    // An unexpected exception would surface as a refusal with a cause: a crash papered over.
    expect(error.cause).toBeUndefined();
  }

  it('never accepts an arbitrary string as a proof', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const segment = fc.string({
      unit: fc.constantFrom(
        ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ',
      ),
    });
    const proof = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')),
      fc.string({ maxLength: 9000, minLength: 8000 }),
    );
    await fc.assert(
      fc.asyncProperty(proof, (value) => expectInvalid(guard, dpopRequest(token, value))),
      runs,
    );
  });

  it('never accepts a valid proof edited by a character', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const original = proofFor(es256, token);
    const alphabet = fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u0000\u00e9',
    );
    const edited = fc
      .record({
        at: fc.nat({ max: original.length }),
        kind: fc.constantFrom('replace', 'insert', 'delete'),
        char: alphabet,
      })
      .map(({ at, kind, char }) => {
        const end = kind === 'insert' ? at : at + 1;
        return `${original.slice(0, at)}${kind === 'delete' ? '' : char}${original.slice(end)}`;
      })
      // RFC 9110 §5.5: whitespace around a field value is no part of it.
      .filter((proof) => proof.trim() !== original);
    await fc.assert(
      fc.asyncProperty(edited, (proof) => expectInvalid(guard, dpopRequest(token, proof))),
      runs,
    );
    // The original was never spent by its mutants.
    await expect(guard.authenticate(dpopRequest(token, original))).resolves.toBeDefined();
  });

  it('accepts a proof exactly when every member is right (a model of §4.3 and §7)', async () => {
    const { guard } = guardWith();
    const token = boundToken(es256);
    const now = clock.nowSeconds();
    const MISSING = undefined;
    type Pick<T> = { readonly ok: boolean; readonly value: T };
    const pick = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>): fc.Arbitrary<Pick<T>> =>
      fc.oneof(
        { arbitrary: valid.map((value) => ({ ok: true, value })), weight: 4 },
        { arbitrary: invalid.map((value) => ({ ok: false, value })), weight: 1 },
      );
    const model = fc.record({
      typ: pick(
        fc.constantFrom('dpop+jwt', 'DPoP+JWT'),
        fc.constantFrom(MISSING, 'JWT', 'at+jwt', 1),
      ),
      alg: pick(fc.constant('ES256'), fc.constantFrom('none', 'ES384', 'RS256', MISSING)),
      // Who signs: the key the token is bound to, or another whose proof is valid but unbound.
      signer: fc.constantFrom('bound', 'unbound'),
      jwk: pick(fc.constant('own'), fc.constantFrom('missing', 'string', 'private')),
      signature: pick(fc.constant('own'), fc.constant('wrong')),
      jti: pick(fc.uuid(), fc.constantFrom<unknown>(MISSING, '', 42)),
      htm: pick(fc.constant('GET'), fc.constantFrom(MISSING, 'get', 'POST')),
      htu: pick(
        fc.constantFrom(
          HTU,
          'HTTPS://API.EXAMPLE/orders',
          `${HTU}?page=1`,
          'https://api.example:443/orders',
        ),
        fc.constantFrom<unknown>(
          MISSING,
          `${ORIGIN}/other`,
          'https://evil.example/orders',
          `${HTU}/`,
        ),
      ),
      iat: pick(
        fc.integer({ min: now - 65, max: now + 5 }),
        fc.oneof(
          fc.integer({ min: now - 100_000, max: now - 66 }),
          fc.integer({ min: now + 6, max: now + 100_000 }),
          fc.constantFrom<unknown>(MISSING, String(now), null),
        ),
      ),
      // `true`: the hash of the token presented, whichever it is.
      ath: pick(fc.constant<unknown>(true), fc.constantFrom<unknown>(MISSING, 'another-hash', '')),
    });
    await fc.assert(
      fc.asyncProperty(model, async (m) => {
        const signer = m.signer === 'bound' ? es256 : other;
        const jwk = {
          own: signer.publicJwk,
          missing: undefined,
          string: 'jwk',
          private: signer.privateKey.export({ format: 'jwk' }),
        }[m.jwk.value];
        const alg = m.alg.value;
        // A wrong signature comes from a key that is in no jwk of the model.
        const signWith = m.signature.value === 'own' ? signer.privateKey : es384.privateKey;
        const proof = createDpopProof(signer, {
          htm: 'GET',
          htu: HTU,
          header: { typ: m.typ.value, alg, jwk },
          claims: {
            jti: m.jti.value,
            htm: m.htm.value,
            htu: m.htu.value,
            iat: m.iat.value,
            ath: m.ath.value === true ? dpopAth(token) : m.ath.value,
          },
          // The header's alg drives the signature; RS256 needs an RSA key to sign at all.
          signWith: alg === 'RS256' ? ps256.privateKey : signWith,
        });
        const result = guard.authenticate(dpopRequest(token, proof));
        const proofOk = [m.typ, m.alg, m.jwk, m.signature, m.jti, m.htm, m.htu, m.iat, m.ath].every(
          (member) => member.ok,
        );
        if (proofOk && m.signer === 'bound') {
          await expect(result).resolves.toMatchObject({ token });
        } else if (proofOk) {
          const error = await refusalOf(result);
          expect(outcome(error)).toEqual({
            code: 'ERR_DPOP_BINDING_MISMATCH',
            status: 401,
            challenge: `DPoP error="invalid_token", ${BINDING_TEXT}, ${ALGS}, Bearer`,
          });
        } else {
          const error = await refusalOf(result);
          expect(outcome(error)).toEqual(invalidProof);
          expect(error.cause).toBeUndefined();
        }
      }),
      runs,
    );
  });
});
