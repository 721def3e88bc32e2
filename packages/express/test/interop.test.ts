// The Express adapter against tokens a real authorization server issued: the testkit's
// oidc-provider interop scenario, on an HTTPS server of Node's.
import { createServer } from 'node:https';
import express, { type RequestHandler } from 'express';
import type { GuardOptions } from '@jwt-guard/core';
import {
  jwtGuard,
  requireAcr,
  requireAuthAge,
  requireDpop,
  requireScope,
} from '@jwt-guard/express';
import { createInteropEnv, interopTests, type InteropHarness } from '@jwt-guard/testkit/jest';
import { renderAuthErrors } from './render-auth-errors.js';

const answer: RequestHandler = (req, res) => {
  res.json({ sub: req.auth.subject, scopes: req.auth.scopes });
};

const harness: InteropHarness = {
  createApp(options, tls) {
    const app = express();
    app.use(jwtGuard(options as unknown as GuardOptions));
    app.get('/orders', requireScope('read:orders'), answer);
    app.get('/admin', requireScope('admin:orders'), answer);
    app.get('/transfers', requireDpop(), answer);
    app.get('/payouts', requireAcr('urn:example:mfa'), answer);
    app.get('/account', requireAuthAge(300), answer);
    app.use(renderAuthErrors);
    return Promise.resolve({ server: createServer(tls, app) });
  },
};

const env = createInteropEnv();
beforeAll(() => env.start());
afterAll(() => env.close());

interopTests(env, harness);
