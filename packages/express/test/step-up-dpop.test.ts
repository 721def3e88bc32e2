// The Express adapter's part in DPoP (RFC 9449) and step-up (RFC 9470): the route checks,
// refusals through an app's error handler with every header of the refusal, and the
// DPoP-Nonce of accepted requests. The shared answers are the conformance matrix's.
import { createServer } from 'node:http';
import express, { type RequestHandler } from 'express';
import { ConfigurationError, type GuardOptions } from '@jwt-guard/core';
import { jwtGuard, requireAcr, requireAuthAge, requireDpop } from '@jwt-guard/express';
import { serveEach, stepUpDpopTests } from '@jwt-guard/testkit/jest';
import { renderAuthErrors } from './render-auth-errors.js';

const answer: RequestHandler = (req, res) => {
  res.json({ sub: req.auth.subject });
};

const serve = serveEach((options: Record<string, unknown>) => {
  const app = express();
  app.use(jwtGuard(options as unknown as GuardOptions));
  app.get('/me', answer);
  app.get('/transfers', requireDpop(), answer);
  app.get('/payouts', requireAcr('urn:example:mfa', 'urn:example:hwk'), answer);
  app.get('/password', requireAuthAge(300), answer);
  app.get('/both', requireAcr('urn:example:mfa'), requireAuthAge(300), answer);
  app.use(renderAuthErrors);
  return Promise.resolve({ server: createServer(app) });
});

stepUpDpopTests({ serve, requireAcr, requireAuthAge, ConfigurationError });
