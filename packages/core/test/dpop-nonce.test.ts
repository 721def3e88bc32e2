import { randomBytes } from 'node:crypto';
import {
  ConfigurationError,
  createGuard,
  type AuthContext,
  type Guard,
  type GuardOptions,
  type GuardRequest,
} from '@jwt-guard/core';
import {
  createDpopKey,
  createDpopProof,
  createTestClock,
  createTokenFactory,
  refusalOf,
  testKeys,
  type DpopKey,
  type DpopProofInput,
  type Refusal,
  type TestClock,
} from '@jwt-guard/testkit';

// RFC 9449 §8 and §9: server-provided nonces. Stateless (an HMAC over a time window), so
// every instance of a fleet configured with one secret issues and accepts the same nonces.

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const ORIGIN = 'https://api.example';
const HTU = `${ORIGIN}/orders`;
const ALGS = 'algs="ES256 EdDSA"';
const SECRET = randomBytes(32);
const ROTATION = 300;
const NONCE = /^[A-Za-z0-9_-]{32}$/;
// 2030-01-01T00:00:00Z is a multiple of 300 s: the start of a window.
const WINDOW_START = Date.parse('2030-01-01T00:00:00Z');

const USE_NONCE = `DPoP error="use_dpop_nonce", error_description="The DPoP proof must carry the nonce the server provided", ${ALGS}, Bearer`;

const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });

let key: DpopKey;

beforeAll(async () => {
  key = await createDpopKey('ES256');
});

beforeEach(() => clock.set(WINDOW_START + 100_000));

function guardWith(
  nonce: { secret: string | Uint8Array; rotationSeconds?: number } = { secret: SECRET },
  options: Partial<GuardOptions> & { clock?: TestClock } = {},
): Guard {
  return createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: keys.ES256.jwk,
    clock,
    dpop: {
      origin: ORIGIN,
      algorithms: ['ES256', 'EdDSA'],
      nonce: { rotationSeconds: ROTATION, ...nonce },
    },
    ...options,
  });
}

function boundToken(): string {
  return mint.sign(keys.ES256, { cnf: { jkt: key.thumbprint } });
}

function request(
  token: string,
  input: Partial<DpopProofInput> = {},
  at: TestClock = clock,
): GuardRequest {
  const proof = createDpopProof(key, {
    htm: 'GET',
    htu: HTU,
    accessToken: token,
    iatSeconds: at.nowSeconds(),
    ...input,
  });
  return {
    method: 'GET',
    url: '/orders',
    headers: ['Authorization', `DPoP ${token}`, 'DPoP', proof],
  };
}

function outcome(error: Refusal) {
  return { code: error.code, status: error.status, challenge: error.headers['WWW-Authenticate'] };
}

/** The nonce a guard hands out now: from the refusal of a proof without one. */
async function nonceOf(guard: Guard, at: TestClock = clock): Promise<string> {
  const error = await refusalOf(guard.authenticate(request(boundToken(), {}, at)));
  const nonce = error.headers['DPoP-Nonce'];
  expect(nonce).toMatch(NONCE);
  return nonce as string;
}

async function expectNonceRequired(guard: Guard, req: GuardRequest): Promise<Refusal> {
  const error = await refusalOf(guard.authenticate(req));
  expect(outcome(error)).toEqual({
    code: 'ERR_DPOP_NONCE_REQUIRED',
    status: 401,
    challenge: USE_NONCE,
  });
  expect(error.headers['DPoP-Nonce']).toMatch(NONCE);
  return error;
}

describe('the nonce flow', () => {
  it('refuses a proof without nonce with use_dpop_nonce and a DPoP-Nonce header', async () => {
    const guard = guardWith();
    const error = await expectNonceRequired(guard, request(boundToken()));
    expect(Object.keys(error.headers).sort()).toEqual(['DPoP-Nonce', 'WWW-Authenticate']);
    expect(error.toJSON()).toEqual({
      error: 'use_dpop_nonce',
      code: 'ERR_DPOP_NONCE_REQUIRED',
      message: 'The DPoP proof must carry the nonce the server provided',
    });
  });

  it('accepts the retry with the nonce, and the proof refused for it was not spent', async () => {
    const guard = guardWith();
    const token = boundToken();
    const error = await expectNonceRequired(guard, request(token, { jti: 'first-try' }));
    const nonce = error.headers['DPoP-Nonce'];
    await expect(
      guard.authenticate(request(token, { jti: 'first-try', nonce })),
    ).resolves.toMatchObject({ token });
  });

  it('gives a fresh nonce on success through responseHeaders', async () => {
    const guard = guardWith();
    const token = boundToken();
    const nonce = await nonceOf(guard);
    const auth = await guard.authenticate(request(token, { nonce }));
    expect(guard.responseHeaders(auth)).toEqual({ 'DPoP-Nonce': nonce });
    clock.advanceSeconds(ROTATION);
    const next = guard.responseHeaders(auth)['DPoP-Nonce'];
    expect(next).toMatch(NONCE);
    expect(next).not.toBe(nonce);
  });

  it('adds no header for a bearer token, no context, or a guard without nonces', async () => {
    const guard = guardWith();
    const bearer = await guard.authenticate({
      method: 'GET',
      url: '/',
      headers: ['Authorization', `Bearer ${mint.sign(keys.ES256)}`],
    });
    expect(guard.responseHeaders(bearer)).toEqual({});
    expect(guard.responseHeaders(undefined)).toEqual({});
    const plain = createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: keys.ES256.jwk,
      clock,
      dpop: { origin: ORIGIN },
    });
    const token = boundToken();
    const auth: AuthContext = await plain.authenticate(request(token));
    expect(plain.responseHeaders(auth)).toEqual({});
  });

  it('checks the proof before the nonce: an invalid proof is invalid, not missing a nonce', async () => {
    const guard = guardWith();
    const token = boundToken();
    const error = await refusalOf(guard.authenticate(request(token, { htu: `${ORIGIN}/other` })));
    expect(outcome(error)).toEqual({
      code: 'ERR_DPOP_PROOF_INVALID',
      status: 401,
      challenge: `DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid", ${ALGS}, Bearer`,
    });
  });

  it('works with dpop.mode "required" (DPoP challenge only)', async () => {
    const guard = createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: keys.ES256.jwk,
      clock,
      dpop: { origin: ORIGIN, mode: 'required', algorithms: ['ES256'], nonce: { secret: SECRET } },
    });
    const token = boundToken();
    const error = await refusalOf(guard.authenticate(request(token)));
    expect(outcome(error)).toEqual({
      code: 'ERR_DPOP_NONCE_REQUIRED',
      status: 401,
      challenge:
        'DPoP error="use_dpop_nonce", error_description="The DPoP proof must carry the nonce the server provided", algs="ES256"',
    });
    await expect(
      guard.authenticate(request(token, { nonce: error.headers['DPoP-Nonce'] })),
    ).resolves.toMatchObject({ token });
  });
});

describe('rotation', () => {
  it('accepts the current and the previous window, and refuses older nonces', async () => {
    const guard = guardWith();
    const token = boundToken();
    const first = await nonceOf(guard);
    clock.advanceSeconds(ROTATION);
    const second = await nonceOf(guard);
    expect(second).not.toBe(first);
    await expect(guard.authenticate(request(token, { nonce: first }))).resolves.toBeDefined();
    await expect(guard.authenticate(request(token, { nonce: second }))).resolves.toBeDefined();
    clock.advanceSeconds(ROTATION);
    const error = await expectNonceRequired(guard, request(token, { nonce: first }));
    expect(error.headers['DPoP-Nonce']).toBe(await nonceOf(guard));
    await expect(guard.authenticate(request(token, { nonce: second }))).resolves.toBeDefined();
  });

  it('keeps a nonce for one to two periods, switching exactly at the window edge', async () => {
    const guard = guardWith();
    const token = boundToken();
    clock.set(WINDOW_START);
    const nonce = await nonceOf(guard);
    clock.set(WINDOW_START + ROTATION * 1000 - 1);
    expect(await nonceOf(guard)).toBe(nonce);
    clock.set(WINDOW_START + 2 * ROTATION * 1000 - 1);
    await expect(guard.authenticate(request(token, { nonce }))).resolves.toBeDefined();
    // Past the clock tolerance too, so only the window decides.
    clock.set(WINDOW_START + 2 * ROTATION * 1000 + 5_000);
    await expectNonceRequired(guard, request(token, { nonce }));
  });

  it('follows rotationSeconds', async () => {
    const guard = guardWith({ secret: SECRET, rotationSeconds: 10 });
    const token = boundToken();
    const nonce = await nonceOf(guard);
    clock.advanceSeconds(19);
    await expect(guard.authenticate(request(token, { nonce }))).resolves.toBeDefined();
    clock.advanceSeconds(21);
    await expectNonceRequired(guard, request(token, { nonce }));
  });
});

describe('which nonces are accepted', () => {
  it('refuses a nonce made with another secret', async () => {
    const guard = guardWith();
    const stranger = guardWith({ secret: randomBytes(32) });
    const nonce = await nonceOf(stranger);
    expect(nonce).not.toBe(await nonceOf(guard));
    await expectNonceRequired(guard, request(boundToken(), { nonce }));
  });

  it('lets a fleet sharing one secret accept each other’s nonces', async () => {
    const secret = 'a shared secret of at least 32 bytes!';
    const one = guardWith({ secret });
    const two = guardWith({ secret: Buffer.from(secret) });
    const token = boundToken();
    const fromOne = await nonceOf(one);
    expect(await nonceOf(two)).toBe(fromOne);
    await expect(two.authenticate(request(token, { nonce: fromOne }))).resolves.toBeDefined();
    clock.advanceSeconds(ROTATION);
    const fromTwo = await nonceOf(two);
    await expect(one.authenticate(request(token, { nonce: fromTwo }))).resolves.toBeDefined();
    await expect(one.authenticate(request(token, { nonce: fromOne }))).resolves.toBeDefined();
  });

  it('accepts the next window’s nonce from an instance whose clock is ahead within tolerance', async () => {
    const ahead = createTestClock(WINDOW_START + ROTATION * 1000 + 2_000);
    const behind = createTestClock(WINDOW_START + ROTATION * 1000 - 2_000);
    const early = guardWith({ secret: SECRET }, { clock: ahead });
    const late = guardWith({ secret: SECRET }, { clock: behind });
    const token = boundToken();
    const nonce = await nonceOf(early, ahead);
    expect(nonce).not.toBe(await nonceOf(late, behind));
    await expect(late.authenticate(request(token, { nonce }, behind))).resolves.toBeDefined();
    // Further ahead than the clock tolerance (5 s): not yet.
    behind.set(WINDOW_START + ROTATION * 1000 - 6_000);
    await expectNonceRequired(late, request(token, { nonce }, behind));
    // Two windows ahead: never.
    ahead.set(WINDOW_START + 2 * ROTATION * 1000 + 1_000);
    const far = await nonceOf(early, ahead);
    behind.set(WINDOW_START + ROTATION * 1000 - 1_000);
    await expectNonceRequired(late, request(token, { nonce: far }, behind));
  });

  it.each<[string, unknown]>([
    ['empty', ''],
    ['a number', 42],
    ['an object', { nonce: 'x' }],
    ['short', 'abc'],
    ['32 characters of garbage', 'A'.repeat(32)],
    ['not base64url', '+'.repeat(32)],
    ['33 characters', 'A'.repeat(33)],
  ])('refuses a nonce that is %s', async (_, nonce) => {
    const guard = guardWith();
    await expectNonceRequired(guard, request(boundToken(), { claims: { nonce } }));
  });

  it('refuses a current nonce with one character changed', async () => {
    const guard = guardWith();
    const nonce = await nonceOf(guard);
    for (const at of [0, 10, 31]) {
      const changed = `${nonce.slice(0, at)}${nonce[at] === 'A' ? 'B' : 'A'}${nonce.slice(at + 1)}`;
      await expectNonceRequired(guard, request(boundToken(), { nonce: changed }));
    }
  });
});

describe('configuration', () => {
  it.each<[string, unknown, string]>([
    ['a short secret', { secret: 'too short' }, '"nonce.secret" must be at least 32 bytes'],
    ['a 31-byte secret', { secret: randomBytes(31) }, '"nonce.secret" must be at least 32 bytes'],
    ['a numeric secret', { secret: 42 }, '"nonce.secret" must be at least 32 bytes'],
    ['a fast rotation', { secret: SECRET, rotationSeconds: 5 }, '"nonce.rotationSeconds" must be'],
    [
      'a string rotation',
      { secret: SECRET, rotationSeconds: '60' },
      '"nonce.rotationSeconds" must be',
    ],
    ['no object', 'secret', '"nonce" must be { secret, rotationSeconds? }'],
  ])('refuses %s at construction', (_, nonce, message) => {
    const make = () =>
      createGuard({
        issuer: ISSUER,
        audience: AUDIENCE,
        keys: keys.ES256.jwk,
        dpop: { origin: ORIGIN, nonce: nonce as { secret: string } },
      });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(message);
  });

  it('never names the secret in a configuration message', () => {
    const secret = 'short-secret-value';
    try {
      createGuard({
        issuer: ISSUER,
        audience: AUDIENCE,
        keys: keys.ES256.jwk,
        dpop: { origin: ORIGIN, nonce: { secret } },
      });
      throw new Error('expected a ConfigurationError');
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
  });
});
