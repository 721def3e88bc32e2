// The Koa adapter's part in DPoP (RFC 9449) and step-up (RFC 9470): the route checks,
// refusals through Koa's own onerror and through an app's handler, with every header of the
// refusal, and the DPoP-Nonce of accepted requests. The shared answers are the conformance
// matrix's.
import { createServer } from 'node:http';
import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
import { ConfigurationError, type GuardOptions } from '@jwt-guard/core';
import { jwtGuard, requireAcr, requireAuthAge, requireDpop } from '@jwt-guard/koa';
import { createDpopKey, sendRequest } from '@jwt-guard/testkit';
import {
  dpopRequestHeaders,
  serveEach,
  STEP_UP_DPOP,
  stepUpDpopTests,
} from '@jwt-guard/testkit/jest';
import { renderAuthErrors } from './render-auth-errors.js';

const answer: Middleware = (ctx) => {
  ctx.body = { sub: ctx.state.auth.subject };
};

const serve = serveEach((options: Record<string, unknown>, render = true) => {
  const app = new Koa();
  if (render) app.use(renderAuthErrors);
  // Without a handler, onerror answers; a listener keeps it from logging each refusal.
  app.on('error', () => {});
  app.use(jwtGuard(options as unknown as GuardOptions));
  const router = new Router();
  router.get('/me', answer);
  router.get('/transfers', requireDpop(), answer);
  router.get('/payouts', requireAcr('urn:example:mfa', 'urn:example:hwk'), answer);
  router.get('/password', requireAuthAge(300), answer);
  router.get('/both', requireAcr('urn:example:mfa'), requireAuthAge(300), answer);
  app.use(router.routes());
  const handle = app.callback();
  const server = createServer((req, res) => {
    void handle(req, res);
  });
  return Promise.resolve({ server });
});

stepUpDpopTests({ serve, requireAcr, requireAuthAge, ConfigurationError });

describe('DPoP server nonces', () => {
  // Koa's onerror drops the headers set so far and sets err.headers: the nonce is among them.
  it('keeps DPoP-Nonce and the challenge through Koa’s own onerror', async () => {
    const origin = await serve(STEP_UP_DPOP.withNonces, false);
    const headers = dpopRequestHeaders(await createDpopKey(), '/me');
    const res = await sendRequest(origin, { path: '/me', headers });
    expect(res.status).toBe(401);
    expect(res.text).toBe('The DPoP proof must carry the nonce the server provided');
    expect(res.headers['www-authenticate']).toBe(
      'DPoP error="use_dpop_nonce", error_description="The DPoP proof must carry the nonce the server provided", algs="ES256", Bearer',
    );
    expect(res.headers['dpop-nonce']).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
