import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { dirname, sep } from 'node:path';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { createMemoryStore, type GuardOptions } from '@jwt-guard/core';
import {
  jwtGuard,
  requireAcr,
  requireAnyScope,
  requireAuthAge,
  requireClaim,
  requireDpop,
  requireOneTimeToken,
  requireScope,
} from '@jwt-guard/express';
import {
  CONFORMANCE_ROUTES,
  conformanceBody,
  conformanceCases,
  createConformanceEnv,
  renderConformanceError,
  runConformanceCase,
  type ConformanceHarness,
  type ConformanceRule,
} from '@jwt-guard/testkit';

function checks(rule: ConformanceRule): RequestHandler[] {
  switch (rule.kind) {
    case 'public':
    case 'authenticated':
      return [];
    case 'allScopes':
      return [requireScope(...rule.scopes)];
    case 'anyScope':
      return [requireAnyScope(...rule.scopes)];
    case 'claim':
      return [requireClaim(rule.claim, rule.value)];
    case 'oneTime':
      return [requireOneTimeToken()];
    case 'dpop':
      return [requireDpop()];
    case 'acr':
      return [requireAcr(...rule.values)];
    case 'authAge':
      return [requireAuthAge(rule.maxAgeSeconds)];
  }
}

const answer: RequestHandler = (req, res) => {
  res.json(conformanceBody(req.auth));
};

const renderError: ErrorRequestHandler = (err, _req, res, next) => {
  if (res.headersSent) return next(err);
  const { status, headers, body } = renderConformanceError(err);
  res.status(status).set(headers).json(body);
};

// Public routes go on the app before the guard; the guarded ones on a Router after it.
const harness: ConformanceHarness = {
  name: 'express',
  createServer(options, tls) {
    const app = express();
    const guarded = express.Router();
    for (const { method, path, rule } of CONFORMANCE_ROUTES) {
      const target = rule.kind === 'public' ? app : guarded;
      target[method.toLowerCase() as 'get' | 'post' | 'delete'](path, ...checks(rule), answer);
    }
    app.use(jwtGuard(options as unknown as GuardOptions));
    app.use(guarded);
    app.use(renderError);
    return Promise.resolve(tls === undefined ? createServer(app) : createHttpsServer(tls, app));
  },
};

const env = createConformanceEnv({ createStore: (clock) => createMemoryStore({ clock }) });
beforeAll(() => env.start());
afterAll(() => env.close());

describe('express conformance', () => {
  it.each(conformanceCases(env))('$name', (row) => runConformanceCase(harness, row));
});

// Each Jest project maps `express` to the version it names (jest.config.js): make sure this file,
// matrix and all, runs on that one, and that `express` itself resolves into that package.
it('runs on the express version of its Jest project', () => {
  const manifest = require.resolve('express/package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  expect(version).toBe((globalThis as { EXPRESS_VERSION?: string }).EXPRESS_VERSION);
  expect(require.resolve('express').startsWith(`${dirname(manifest)}${sep}`)).toBe(true);
});
