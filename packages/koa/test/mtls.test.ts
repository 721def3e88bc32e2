// RFC 8705 certificate-bound tokens through the Koa adapter on a real TLS server: the adapter
// hands core the connection (`ctx.req.socket`), whose client certificate the token must be
// bound to.
import { createServer } from 'node:https';
import Koa from 'koa';
import type { GuardOptions } from '@jwt-guard/core';
import { jwtGuard } from '@jwt-guard/koa';
import { mtlsTests, type MtlsHarness } from '@jwt-guard/testkit/jest';
import { renderAuthErrors } from './render-auth-errors.js';

const harness: MtlsHarness = {
  createApp(options, tls) {
    const app = new Koa();
    app.use(renderAuthErrors);
    app.use(jwtGuard(options as unknown as GuardOptions));
    app.use((ctx) => {
      ctx.body = { sub: ctx.state.auth.subject };
    });
    const handle = app.callback();
    const server = createServer(tls, (req, res) => {
      void handle(req, res);
    });
    return Promise.resolve({ server });
  },
};

describe('a certificate-bound token over TLS', () => {
  mtlsTests(harness);
});
