import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { dirname, sep } from 'node:path';
import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
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
} from '@jwt-guard/koa';
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

function checks(rule: ConformanceRule): Middleware[] {
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

const answer: Middleware = (ctx) => {
  ctx.body = conformanceBody(ctx.state.auth);
};

const renderError: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    const { status, headers, body } = renderConformanceError(err);
    ctx.status = status;
    ctx.set(headers);
    ctx.body = body;
  }
};

// Public routes are on a router used before the guard (their handlers end the chain); the
// guarded ones on a router used after it.
const harness: ConformanceHarness = {
  name: 'koa',
  createServer(options, tls) {
    const app = new Koa();
    const open = new Router();
    const guarded = new Router();
    for (const { method, path, rule } of CONFORMANCE_ROUTES) {
      const target = rule.kind === 'public' ? open : guarded;
      target[method.toLowerCase() as 'get' | 'post' | 'delete'](path, ...checks(rule), answer);
    }
    app.use(renderError);
    app.use(open.routes());
    app.use(jwtGuard(options as unknown as GuardOptions));
    app.use(guarded.routes());
    const handle = app.callback();
    const listener = (req: IncomingMessage, res: ServerResponse): void => {
      void handle(req, res);
    };
    return Promise.resolve(
      tls === undefined ? createServer(listener) : createHttpsServer(tls, listener),
    );
  },
};

const env = createConformanceEnv({ createStore: (clock) => createMemoryStore({ clock }) });
beforeAll(() => env.start());
afterAll(() => env.close());

describe('koa conformance', () => {
  it.each(conformanceCases(env))('$name', (row) => runConformanceCase(harness, row));
});

// Each Jest project maps `koa` to the version it names (jest.config.js): make sure this file,
// matrix and all, runs on that one, and that `koa` itself resolves into that package.
it('runs on the koa version of its Jest project', () => {
  const manifest = require.resolve('koa/package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  expect(version).toBe((globalThis as { KOA_VERSION?: string }).KOA_VERSION);
  expect(require.resolve('koa').startsWith(`${dirname(manifest)}${sep}`)).toBe(true);
});
