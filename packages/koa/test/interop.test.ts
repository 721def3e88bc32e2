// The Koa adapter against tokens a real authorization server issued: the testkit's
// oidc-provider interop scenario, on an HTTPS server of Node's.
import { createServer } from 'node:https';
import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
import type { GuardOptions } from '@jwt-guard/core';
import { jwtGuard, requireAcr, requireAuthAge, requireDpop, requireScope } from '@jwt-guard/koa';
import { createInteropEnv, interopTests, type InteropHarness } from '@jwt-guard/testkit/jest';
import { renderAuthErrors } from './render-auth-errors.js';

const answer: Middleware = (ctx) => {
  ctx.body = { sub: ctx.state.auth.subject, scopes: ctx.state.auth.scopes };
};

const harness: InteropHarness = {
  createApp(options, tls) {
    const router = new Router();
    router.get('/orders', requireScope('read:orders'), answer);
    router.get('/admin', requireScope('admin:orders'), answer);
    router.get('/transfers', requireDpop(), answer);
    router.get('/payouts', requireAcr('urn:example:mfa'), answer);
    router.get('/account', requireAuthAge(300), answer);
    const app = new Koa();
    app.use(renderAuthErrors);
    app.use(jwtGuard(options as unknown as GuardOptions));
    app.use(router.routes());
    const handle = app.callback();
    const server = createServer(tls, (req, res) => {
      void handle(req, res);
    });
    return Promise.resolve({ server });
  },
};

const env = createInteropEnv();
beforeAll(() => env.start());
afterAll(() => env.close());

interopTests(env, harness);
