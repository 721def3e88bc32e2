// The Express adapter's part in DPoP (RFC 9449) and step-up (RFC 9470): the route checks,
// refusals through an app's error handler with every header of the refusal, and the
// DPoP-Nonce of accepted requests. The shared answers are the conformance matrix's.
import { createServer } from 'node:http';
import express, { type RequestHandler } from 'express';
import { ConfigurationError, type DpopOptions, type GuardOptions } from '@jwt-guard/core';
import { jwtGuard, requireAcr, requireAuthAge, requireDpop } from '@jwt-guard/express';
import {
  createDpopKey,
  createDpopProof,
  createTestClock,
  createTokenFactory,
  listenOnLoopback,
  sendRequest,
  testKeys,
  type DpopKey,
  type LoopbackServer,
  type TestResponse,
} from '@jwt-guard/testkit';
import { renderAuthErrors } from './render-auth-errors.js';

const issuer = 'https://idp.example/';
const audience = 'https://api.example/';
const publicOrigin = 'https://api.example';
const keys = testKeys();
const clock = createTestClock();
const now = clock.nowSeconds();
const mint = createTokenFactory({ issuer, audience, clock });
const base: GuardOptions = { issuer, audience, clock, keys: keys.ES256.jwk };
const dpop: DpopOptions = { origin: publicOrigin, algorithms: ['ES256'] };
const nonces: DpopOptions = { ...dpop, nonce: { secret: 'express-test-nonce-secret-32-bytes!!' } };

const answer: RequestHandler = (req, res) => {
  res.json({ sub: req.auth.subject });
};

let key: DpopKey;
let server: LoopbackServer | undefined;
beforeAll(async () => {
  key = await createDpopKey();
});
afterEach(() => server?.close());

async function serve(options: GuardOptions): Promise<string> {
  const app = express();
  app.use(jwtGuard(options));
  app.get('/me', answer);
  app.get('/transfers', requireDpop(), answer);
  app.get('/payouts', requireAcr('urn:example:mfa', 'urn:example:hwk'), answer);
  app.get('/password', requireAuthAge(300), answer);
  app.get('/both', requireAcr('urn:example:mfa'), requireAuthAge(300), answer);
  app.use(renderAuthErrors);
  server = await listenOnLoopback(createServer(app));
  return server.origin;
}

const bearer = (claims: Record<string, unknown> = {}) => [
  'Authorization',
  `Bearer ${mint.sign(keys.ES256, claims)}`,
];

function dpopHeaders(path: string, nonce?: string): string[] {
  const token = mint.sign(keys.ES256, { cnf: { jkt: key.thumbprint } });
  const proof = createDpopProof(key, {
    htm: 'GET',
    htu: `${publicOrigin}${path}`,
    accessToken: token,
    iatSeconds: now,
    nonce,
  });
  return ['Authorization', `DPoP ${token}`, 'DPoP', proof];
}

function refusal(res: TestResponse): unknown {
  return {
    status: res.status,
    body: JSON.parse(res.text) as unknown,
    challenge: res.headers['www-authenticate'],
  };
}

const stepUpText = 'A stronger or more recent user authentication is required';

describe('requireDpop()', () => {
  it('lets a DPoP-bound token with its proof through', async () => {
    const origin = await serve({ ...base, dpop });
    const res = await sendRequest(origin, {
      path: '/transfers',
      headers: dpopHeaders('/transfers'),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ sub: 'user-1' });
  });

  it('refuses a bearer token with 401 ERR_DPOP_REQUIRED and the DPoP challenge', async () => {
    const origin = await serve({ ...base, dpop });
    const res = await sendRequest(origin, { path: '/transfers', headers: bearer() });
    expect(refusal(res)).toEqual({
      status: 401,
      body: {
        error: 'invalid_token',
        code: 'ERR_DPOP_REQUIRED',
        message: 'This resource requires a DPoP-bound access token',
      },
      challenge:
        'DPoP error="invalid_token", error_description="This resource requires a DPoP-bound access token", algs="ES256"',
    });
  });
});

describe('requireAcr() and requireAuthAge()', () => {
  it('let a strong and recent enough authentication through', async () => {
    const origin = await serve(base);
    const strong = await sendRequest(origin, {
      path: '/payouts',
      headers: bearer({ acr: 'urn:example:hwk' }),
    });
    const recent = await sendRequest(origin, {
      path: '/password',
      headers: bearer({ auth_time: now - 60 }),
    });
    expect([strong.status, recent.status]).toEqual([200, 200]);
  });

  it('answer a weaker acr with 401 insufficient_user_authentication and acr_values', async () => {
    const origin = await serve(base);
    const res = await sendRequest(origin, {
      path: '/payouts',
      headers: bearer({ acr: 'urn:example:pwd' }),
    });
    expect(refusal(res)).toEqual({
      status: 401,
      body: {
        error: 'insufficient_user_authentication',
        code: 'ERR_AUTHENTICATION_INSUFFICIENT',
        message: stepUpText,
      },
      challenge: `Bearer error="insufficient_user_authentication", error_description="${stepUpText}", acr_values="urn:example:mfa urn:example:hwk"`,
    });
  });

  it('answer an old authentication with max_age', async () => {
    const origin = await serve(base);
    const res = await sendRequest(origin, {
      path: '/password',
      headers: bearer({ auth_time: now - 3600 }),
    });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_user_authentication", error_description="${stepUpText}", max_age="300"`,
    );
  });

  // Two middlewares are two checks: the first that fails answers, naming its own attribute.
  it('check one after the other when stacked on a route', async () => {
    const origin = await serve(base);
    const weak = await sendRequest(origin, {
      path: '/both',
      headers: bearer({ acr: 'urn:example:pwd', auth_time: now }),
    });
    const old = await sendRequest(origin, {
      path: '/both',
      headers: bearer({ acr: 'urn:example:mfa', auth_time: now - 3600 }),
    });
    expect([weak.headers['www-authenticate'], old.headers['www-authenticate']]).toEqual([
      `Bearer error="insufficient_user_authentication", error_description="${stepUpText}", acr_values="urn:example:mfa"`,
      `Bearer error="insufficient_user_authentication", error_description="${stepUpText}", max_age="300"`,
    ]);
  });

  it('name the DPoP scheme in the challenge of a DPoP request', async () => {
    const origin = await serve({ ...base, dpop });
    const res = await sendRequest(origin, { path: '/payouts', headers: dpopHeaders('/payouts') });
    expect(res.headers['www-authenticate']).toBe(
      `DPoP error="insufficient_user_authentication", error_description="${stepUpText}", acr_values="urn:example:mfa urn:example:hwk", algs="ES256", Bearer`,
    );
  });

  it.each<[string, () => unknown]>([
    ['requireAcr()', () => requireAcr()],
    ['requireAcr with a space', () => requireAcr('urn:example:mfa urn:example:hwk')],
    ['requireAuthAge(-1)', () => requireAuthAge(-1)],
    ['requireAuthAge(1.5)', () => requireAuthAge(1.5)],
  ])('%s throws a ConfigurationError when the route is defined', (_name, define) => {
    expect(define).toThrow(ConfigurationError);
  });
});

describe('DPoP server nonces', () => {
  it('sends DPoP-Nonce with the use_dpop_nonce refusal, and a fresh one when accepted', async () => {
    const origin = await serve({ ...base, dpop: nonces });
    const first = await sendRequest(origin, { path: '/me', headers: dpopHeaders('/me') });
    expect(refusal(first)).toEqual({
      status: 401,
      body: {
        error: 'use_dpop_nonce',
        code: 'ERR_DPOP_NONCE_REQUIRED',
        message: 'The DPoP proof must carry the nonce the server provided',
      },
      challenge:
        'DPoP error="use_dpop_nonce", error_description="The DPoP proof must carry the nonce the server provided", algs="ES256", Bearer',
    });
    const nonce = first.headers['dpop-nonce'];
    expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/);

    const retry = await sendRequest(origin, {
      path: '/me',
      headers: dpopHeaders('/me', nonce as string),
    });
    expect(retry.status).toBe(200);
    // The clock stands still, so the nonce of the current window is the same one.
    expect(retry.headers['dpop-nonce']).toBe(nonce);
  });

  it('sends a DPoP-Nonce on the accepted requests of a requireDpop route', async () => {
    const origin = await serve({ ...base, dpop: nonces });
    const first = await sendRequest(origin, {
      path: '/transfers',
      headers: dpopHeaders('/transfers'),
    });
    const nonce = first.headers['dpop-nonce'] as string;
    const res = await sendRequest(origin, {
      path: '/transfers',
      headers: dpopHeaders('/transfers', nonce),
    });
    expect([res.status, res.headers['dpop-nonce']]).toEqual([200, nonce]);
  });

  it('sends none with a bearer token, nor without nonces configured', async () => {
    const withNonces = await serve({ ...base, dpop: nonces });
    const bearerAnswer = await sendRequest(withNonces, { path: '/me', headers: bearer() });
    await server?.close();
    const withoutNonces = await serve({ ...base, dpop });
    const dpopAnswer = await sendRequest(withoutNonces, {
      path: '/me',
      headers: dpopHeaders('/me'),
    });
    expect([bearerAnswer.status, dpopAnswer.status]).toEqual([200, 200]);
    expect([bearerAnswer.headers['dpop-nonce'], dpopAnswer.headers['dpop-nonce']]).toEqual([
      undefined,
      undefined,
    ]);
  });
});
