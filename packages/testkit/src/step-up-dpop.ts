// An adapter's part in DPoP (RFC 9449) and step-up (RFC 9470), for the adapters whose checks
// are route middleware (Express, Koa): the route checks, refusals through the app's error
// handler with every header of the refusal, and the DPoP-Nonce of accepted requests. Nest's
// decorators merge the requirements of a handler and its controller into one, so its stacked
// answers differ and it keeps scenarios of its own.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { createDpopKey, createDpopProof, type DpopKey } from './dpop.js';
import { sendRequest, type TestResponse } from './http.js';
import { createStaticFixture } from './static-fixture.js';

const fixture = createStaticFixture();
// The fixture's clock is frozen: `now` stays the guard's now, so proofs and auth_time keep
// their age.
const now = fixture.clock.nowSeconds();
// The API's public origin, which clients put in `htu`; the tests reach it on loopback.
const ORIGIN = 'https://api.example';
const dpop = { origin: ORIGIN, algorithms: ['ES256'] };
const STEP_UP_TEXT = 'A stronger or more recent user authentication is required';

/**
 * Guard options of the step-up/DPoP scenario, over the {@link createStaticFixture} key and
 * clock: without DPoP, with DPoP (ES256 proofs for `https://api.example`), and with DPoP server
 * nonces too.
 *
 * @example
 * ```ts
 * const origin = await serve(STEP_UP_DPOP.withNonces);
 * const res = await sendRequest(origin, { path: '/me', headers: dpopRequestHeaders(key, '/me') });
 * ```
 */
export const STEP_UP_DPOP = {
  options: fixture.options,
  withDpop: { ...fixture.options, dpop },
  // RFC 9449 §9: the nonce secret is at least 32 bytes, shared by a fleet.
  withNonces: {
    ...fixture.options,
    dpop: { ...dpop, nonce: { secret: 'step-up-dpop-test-nonce-secret-32-bytes' } },
  },
} as const;

/**
 * The headers of a DPoP request to `path` on the {@link STEP_UP_DPOP} origin: a token bound to
 * `key` (`cnf.jkt`) and a proof of `GET` to that URL for it, carrying `nonce` if given.
 *
 * @example
 * ```ts
 * const key = await createDpopKey();
 * const headers = dpopRequestHeaders(key, '/transfers');
 * await sendRequest(origin, { path: '/transfers', headers });
 * ```
 */
export function dpopRequestHeaders(key: DpopKey, path: string, nonce?: string): string[] {
  const token = fixture.token({ cnf: { jkt: key.thumbprint } });
  const proof = createDpopProof(key, {
    htm: 'GET',
    htu: `${ORIGIN}${path}`,
    accessToken: token,
    iatSeconds: now,
    nonce,
  });
  return ['Authorization', `DPoP ${token}`, 'DPoP', proof];
}

/**
 * One middleware adapter in the step-up/DPoP scenario: how its test serves an app, and its own
 * step-up functions, whose arguments are checked when a route is defined.
 *
 * @example
 * ```ts
 * const harness: StepUpDpopHarness = {
 *   serve: serveEach((options: Record<string, unknown>) => {
 *     const app = express();
 *     app.use(jwtGuard(options as unknown as GuardOptions));
 *     app.get('/transfers', requireDpop(), answer);
 *     // … /me, /payouts, /password, /both, and the error handler …
 *     return Promise.resolve({ server: http.createServer(app) });
 *   }),
 *   requireAcr,
 *   requireAuthAge,
 *   ConfigurationError,
 * };
 * ```
 */
export interface StepUpDpopHarness {
  /**
   * Serves an app guarded with these options and answers its origin; its GET routes answer
   * `{ sub: auth.subject }`: `/me` any token, `/transfers` behind `requireDpop()`, `/payouts`
   * behind `requireAcr('urn:example:mfa', 'urn:example:hwk')`, `/password` behind
   * `requireAuthAge(300)`, `/both` behind `requireAcr('urn:example:mfa')` then
   * `requireAuthAge(300)`. A refusal answers its status, every one of its headers, and its
   * `{ error, code, message }` as JSON. Every app is closed after its test (`serveEach`).
   */
  readonly serve: (options: Record<string, unknown>) => Promise<string>;
  readonly requireAcr: (...acrValues: string[]) => unknown;
  readonly requireAuthAge: (maxAgeSeconds: number) => unknown;
  /** Core's `ConfigurationError` (the testkit does not depend on core). */
  readonly ConfigurationError: abstract new (...args: never[]) => Error;
}

function refusal(res: TestResponse): unknown {
  return {
    status: res.status,
    body: JSON.parse(res.text) as unknown,
    challenge: res.headers['www-authenticate'],
  };
}

/**
 * Declares the step-up/DPoP describe blocks `requireDpop()`, `requireAcr() and
 * requireAuthAge()` and `DPoP server nonces`; call it at the top of a test file, which may add
 * tests of its own to a block of the same name.
 *
 * @example
 * ```ts
 * stepUpDpopTests({ serve, requireAcr, requireAuthAge, ConfigurationError });
 * ```
 */
export function stepUpDpopTests(harness: StepUpDpopHarness): void {
  const { serve, requireAcr, requireAuthAge, ConfigurationError } = harness;
  const { options, withDpop, withNonces } = STEP_UP_DPOP;

  let key: DpopKey;
  beforeAll(async () => {
    key = await createDpopKey();
  });

  const bearer = (claims: Record<string, unknown> = {}) => [
    'Authorization',
    `Bearer ${fixture.token(claims)}`,
  ];
  const dpopHeaders = (path: string, nonce?: string) => dpopRequestHeaders(key, path, nonce);

  describe('requireDpop()', () => {
    it('lets a DPoP-bound token with its proof through', async () => {
      const origin = await serve(withDpop);
      const res = await sendRequest(origin, {
        path: '/transfers',
        headers: dpopHeaders('/transfers'),
      });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual({ sub: 'user-1' });
    });

    it('refuses a bearer token with 401 ERR_DPOP_REQUIRED and the DPoP challenge', async () => {
      const origin = await serve(withDpop);
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
      const origin = await serve(options);
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
      const origin = await serve(options);
      const res = await sendRequest(origin, {
        path: '/payouts',
        headers: bearer({ acr: 'urn:example:pwd' }),
      });
      expect(refusal(res)).toEqual({
        status: 401,
        body: {
          error: 'insufficient_user_authentication',
          code: 'ERR_AUTHENTICATION_INSUFFICIENT',
          message: STEP_UP_TEXT,
        },
        challenge: `Bearer error="insufficient_user_authentication", error_description="${STEP_UP_TEXT}", acr_values="urn:example:mfa urn:example:hwk"`,
      });
    });

    it('answer an old authentication with max_age', async () => {
      const origin = await serve(options);
      const res = await sendRequest(origin, {
        path: '/password',
        headers: bearer({ auth_time: now - 3600 }),
      });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        `Bearer error="insufficient_user_authentication", error_description="${STEP_UP_TEXT}", max_age="300"`,
      );
    });

    // Two middlewares are two checks: the first that fails answers, naming its own attribute.
    it('check one after the other when stacked on a route', async () => {
      const origin = await serve(options);
      const weak = await sendRequest(origin, {
        path: '/both',
        headers: bearer({ acr: 'urn:example:pwd', auth_time: now }),
      });
      const old = await sendRequest(origin, {
        path: '/both',
        headers: bearer({ acr: 'urn:example:mfa', auth_time: now - 3600 }),
      });
      expect([weak.headers['www-authenticate'], old.headers['www-authenticate']]).toEqual([
        `Bearer error="insufficient_user_authentication", error_description="${STEP_UP_TEXT}", acr_values="urn:example:mfa"`,
        `Bearer error="insufficient_user_authentication", error_description="${STEP_UP_TEXT}", max_age="300"`,
      ]);
    });

    it('name the DPoP scheme in the challenge of a DPoP request', async () => {
      const origin = await serve(withDpop);
      const res = await sendRequest(origin, {
        path: '/payouts',
        headers: dpopHeaders('/payouts'),
      });
      expect(res.headers['www-authenticate']).toBe(
        `DPoP error="insufficient_user_authentication", error_description="${STEP_UP_TEXT}", acr_values="urn:example:mfa urn:example:hwk", algs="ES256", Bearer`,
      );
    });

    // A misconfigured route must fail at startup, not answer every request with a refusal.
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
      const origin = await serve(withNonces);
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
      const origin = await serve(withNonces);
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
      const withNoncesOrigin = await serve(withNonces);
      const bearerAnswer = await sendRequest(withNoncesOrigin, { path: '/me', headers: bearer() });
      const withoutNoncesOrigin = await serve(withDpop);
      const dpopAnswer = await sendRequest(withoutNoncesOrigin, {
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
}
