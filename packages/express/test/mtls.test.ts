// RFC 8705 certificate-bound tokens through the Express adapter on a real TLS server: the
// adapter hands core the connection, whose client certificate the token must be bound to.
import { createServer } from 'node:https';
import express from 'express';
import type { GuardOptions } from '@jwt-guard/core';
import { jwtGuard } from '@jwt-guard/express';
import { mtlsTests, type MtlsHarness } from '@jwt-guard/testkit/jest';
import { renderAuthErrors } from './render-auth-errors.js';

const harness: MtlsHarness = {
  createApp(options, tls) {
    const app = express();
    app.use(jwtGuard(options as unknown as GuardOptions));
    app.get('/me', (req, res) => {
      res.json({ sub: req.auth.subject });
    });
    app.use(renderAuthErrors);
    return Promise.resolve({ server: createServer(tls, app) });
  },
};

describe('a certificate-bound token over TLS', () => {
  mtlsTests(harness);
});
