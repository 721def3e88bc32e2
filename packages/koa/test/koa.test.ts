// What only the Koa adapter does: rendering through Koa's own `onerror`, `ctx.state.auth`
// typing, wiring mistakes, router mounting, one-time route names. The behaviour shared with
// every adapter is the conformance matrix (conformance.test.ts).
import { createServer } from 'node:http';
import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
import request from 'supertest';
import {
  ConfigurationError,
  isJwtGuardError,
  type AuthContext,
  type GuardOptions,
} from '@jwt-guard/core';
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
  createTestClock,
  createTokenFactory,
  listenOnLoopback,
  sendRequest,
  startKeyServer,
  testKeys,
  type KeyServer,
} from '@jwt-guard/testkit';

const issuer = 'https://idp.example/';
const audience = 'https://api.example/';
const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer, audience, clock });
const options: GuardOptions = { issuer, audience, clock, keys: keys.ES256.jwk };
const bearer = (claims: Record<string, unknown> = {}): string =>
  `Bearer ${mint.sign(keys.ES256, claims)}`;

type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const answer: Middleware = (ctx) => {
  // Compile-time: `ctx.state.auth` is the AuthContext through DefaultState, not `any`.
  const typed: Equals<typeof ctx.state.auth, AuthContext> = true;
  ctx.body = { typed, sub: ctx.state.auth.subject, scopes: ctx.state.auth.scopes };
};

/** An app with one router, the guard applied app-wide. */
function guardedApp(guardOptions: GuardOptions, mount: (router: Router) => void): Koa {
  const app = new Koa();
  const router = new Router();
  mount(router);
  app.use(jwtGuard(guardOptions));
  app.use(router.routes());
  return app;
}

describe("Koa's default onerror, no custom handler", () => {
  const app = guardedApp(options, (router) =>
    router.get('/items', requireScope('read:items'), answer),
  );
  const server = app.callback();

  it('renders 401 with the bare challenge when no token was sent', async () => {
    const res = await request(server).get('/items');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.text).toBe('Authentication required');
  });

  it('renders 401 invalid_token with its description', async () => {
    const res = await request(server)
      .get('/items')
      .set(
        'Authorization',
        bearer({ iat: clock.nowSeconds() - 960, exp: clock.nowSeconds() - 60 }),
      );
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The access token expired"',
    );
    expect(res.text).toBe('The access token expired');
  });

  it('renders 403 insufficient_scope naming the scope', async () => {
    const res = await request(server)
      .get('/items')
      .set('Authorization', bearer({ scope: 'profile' }));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="read:items"',
    );
  });

  // supertest keeps one value per header name: two Authorization headers need a raw request.
  it('renders 400 invalid_request with its description for two Authorization headers', async () => {
    const listening = await listenOnLoopback(
      createServer((req, res) => {
        void server(req, res);
      }),
    );
    try {
      const res = await sendRequest(listening.origin, {
        path: '/items',
        headers: ['Authorization', bearer(), 'Authorization', bearer()],
      });
      expect(res.status).toBe(400);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer error="invalid_request", error_description="More than one Authorization header was sent"',
      );
      expect(res.text).toBe('More than one Authorization header was sent');
    } finally {
      await listening.close();
    }
  });

  it('renders 503 without a challenge when the keys are unavailable', async () => {
    const down = await startKeyServer({ keys: [keys.ES256] });
    down.setFault({ kind: 'down' });
    try {
      const outage = guardedApp({ issuer: down.issuer, audience, clock }, (router) =>
        router.get('/me', answer),
      );
      // onerror would log the non-exposed 503; this test reads the response only.
      outage.silent = true;
      const token = createTokenFactory({ issuer: down.issuer, audience, clock }).sign(keys.ES256);
      const res = await request(outage.callback())
        .get('/me')
        .set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(503);
      expect(res.headers['www-authenticate']).toBeUndefined();
    } finally {
      await down.close();
    }
  });

  it('lets the request through with ctx.state.auth set', async () => {
    const res = await request(server)
      .get('/items')
      .set('Authorization', bearer({ scope: 'read:items' }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ typed: true, sub: 'user-1', scopes: ['read:items'] });
  });
});

describe('an app error handler', () => {
  it('reads the stable code and status of the refusal', async () => {
    const app = new Koa();
    const router = new Router();
    router.get('/reports', requireAnyScope('reports:read', 'admin'), answer);
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (err) {
        if (!isJwtGuardError(err)) throw err;
        ctx.status = err.status;
        ctx.set(err.headers);
        ctx.body = { code: err.code, requirement: err.requirement };
      }
    });
    app.use(jwtGuard(options));
    app.use(router.routes());

    const res = await request(app.callback())
      .get('/reports')
      .set('Authorization', bearer({ scope: 'x' }));
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ code: 'ERR_SCOPE_INSUFFICIENT', requirement: 'scope' });
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="reports:read admin"',
    );
  });
});

describe('a route requirement without a scope', () => {
  // requireScope() would let every valid token through: a slip, refused when the route is
  // defined, with a message saying what to do.
  it.each([
    ['requireScope()', () => requireScope()],
    ['requireAnyScope()', () => requireAnyScope()],
  ])('%s throws a ConfigurationError at startup', (_, define) => {
    expect(define).toThrow(ConfigurationError);
    expect(define).toThrow(/is empty; name at least one scope/);
  });
});

describe('a route requirement without jwtGuard', () => {
  // A forgotten app.use(jwtGuard()) must fail loudly, never let the request through.
  it.each([
    ['requireScope', requireScope('read:items')],
    ['requireAnyScope', requireAnyScope('read:items')],
    ['requireClaim', requireClaim('tenant', 'acme')],
    ['requireOneTimeToken', requireOneTimeToken()],
    ['requireDpop', requireDpop()],
    ['requireAcr', requireAcr('urn:example:mfa')],
    ['requireAuthAge', requireAuthAge(300)],
  ])('%s answers 500 with an error naming jwtGuard', async (name, check) => {
    const app = new Koa();
    const router = new Router();
    router.get('/x', check, answer);
    app.use(router.routes());
    const seen: unknown[] = [];
    // A listener replaces onerror's logging; the response is still onerror's 500.
    app.on('error', (err) => seen.push(err));

    const res = await request(app.callback())
      .get('/x')
      .set('Authorization', bearer({ scope: 'read:items' }));
    expect(res.status).toBe(500);
    expect(seen).toHaveLength(1);
    expect((seen[0] as Error).message).toBe(`${name}() needs app.use(jwtGuard(options)) before it`);
  });
});

describe('a router-level jwtGuard', () => {
  const app = new Koa();
  const api = new Router({ prefix: '/api' });
  api.use(jwtGuard(options));
  api.get('/items', requireScope('read:items'), answer);
  const open = new Router();
  open.get('/catalogue', (ctx) => {
    ctx.body = { public: true };
  });
  app.use(api.routes());
  app.use(open.routes());
  const server = app.callback();

  it('guards the routes of its router', async () => {
    await request(server).get('/api/items').expect(401).expect('WWW-Authenticate', 'Bearer');
    await request(server)
      .get('/api/items')
      .set('Authorization', bearer({ scope: 'read:items' }))
      .expect(200);
  });

  it('leaves the routes outside it alone', async () => {
    await request(server).get('/catalogue').expect(200, { public: true });
  });
});

describe('requireClaim with a predicate', () => {
  const server = guardedApp(options, (router) => {
    router.get(
      '/vault',
      requireClaim('level', (level) => typeof level === 'number' && level >= 3),
      answer,
    );
    router.get(
      '/deep',
      requireClaim('org', (org) => (org as { unit: { name: string } }).unit.name === 'vault'),
      answer,
    );
  }).callback();

  it('passes when the predicate returns true', async () => {
    await request(server)
      .get('/vault')
      .set('Authorization', bearer({ level: 5 }))
      .expect(200);
  });

  it.each([
    ['false', { level: 1 }],
    ['a claim of another type', { level: '5' }],
    ['a missing claim', {}],
  ])('answers 403 ERR_CLAIM_MISMATCH for %s', async (_name, claims) => {
    const res = await request(server).get('/vault').set('Authorization', bearer(claims));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token does not meet the requirements of this resource"',
    );
  });

  it('denies with 403, not 500, when the predicate throws', async () => {
    await request(server).get('/deep').set('Authorization', bearer()).expect(403);
  });
});

describe('requireOneTimeToken scopes', () => {
  const app = new Koa();
  const router = new Router();
  const payments = new Router({ prefix: '/payments' });
  const tenants = new Router({ prefix: '/tenants/:tid' });
  router.post('/a', requireOneTimeToken(), answer);
  router.post('/b', requireOneTimeToken(), answer);
  router.get('/download', requireOneTimeToken(), answer);
  router.post('/transfer-1', requireOneTimeToken('transfer'), answer);
  router.post('/transfer-2', requireOneTimeToken('transfer'), answer);
  router.post('/report', requireOneTimeToken('report'), answer);
  payments.post('/transfer', requireOneTimeToken(), answer);
  tenants.post('/export', requireOneTimeToken(), answer);
  app.use(jwtGuard(options));
  app.use(router.routes());
  app.use(payments.routes());
  app.use(tenants.routes());
  const server = app.callback();

  function expectReplayed(res: { status: number; headers: Record<string, string> }) {
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The access token was already used"',
    );
  }

  it('serve a token once in all by default: a second one-time route refuses it', async () => {
    const token = bearer();
    await request(server).post('/a').set('Authorization', token).expect(200);
    expectReplayed(await request(server).post('/a').set('Authorization', token));
    expectReplayed(await request(server).post('/b').set('Authorization', token));
  });

  // The record is of the jti, not of the URL: no spelling of the path, no other value of a
  // path parameter and no other method gets a used token through again.
  it.each([
    ['the mount path in capitals', '/payments/transfer', '/PAYMENTS/transfer'],
    ['another path parameter', '/tenants/1/export', '/tenants/2/export'],
  ])('refuse a replay through %s', async (_name, first, again) => {
    const token = bearer();
    await request(server).post(first).set('Authorization', token).expect(200);
    expectReplayed(await request(server).post(again).set('Authorization', token));
  });

  it('refuse a HEAD replay of a one-time GET', async () => {
    const token = bearer();
    await request(server).get('/download').set('Authorization', token).expect(200);
    const res = await request(server).head('/download').set('Authorization', token);
    expect(res.status).toBe(401);
  });

  it('keep named scopes apart: one token serves each scope once', async () => {
    const token = bearer();
    await request(server).post('/transfer-1').set('Authorization', token).expect(200);
    expectReplayed(await request(server).post('/transfer-2').set('Authorization', token));
    await request(server).post('/report').set('Authorization', token).expect(200);
    await request(server).post('/a').set('Authorization', token).expect(200);
  });

  it('refuse an empty scope name when the route is defined', () => {
    expect(() => requireOneTimeToken('')).toThrow(
      'requireOneTimeToken(scope): the scope must be a non-empty string',
    );
  });
});

describe('middleware.guard.hydrate()', () => {
  let server: KeyServer;
  beforeAll(async () => {
    server = await startKeyServer({ keys: [keys.ES256] });
  });
  afterAll(() => server.close());

  it('fetches discovery and keys before the first request, which then fetches nothing', async () => {
    const guard = jwtGuard({ issuer: server.issuer, audience, clock });
    const app = new Koa();
    app.use(guard);
    app.use(answer);
    server.resetHits();

    await guard.guard.hydrate();
    expect(server.hits).toEqual({ jwks: 1, metadata: 1, redirected: 0 });

    const token = createTokenFactory({ issuer: server.issuer, audience, clock }).sign(keys.ES256);
    await request(app.callback()).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(server.hits).toEqual({ jwks: 1, metadata: 1, redirected: 0 });
  });

  it('rejects with ERR_KEYS_UNAVAILABLE when the issuer is down', async () => {
    const down = await startKeyServer({ keys: [keys.ES256] });
    down.setFault({ kind: 'down' });
    try {
      const guard = jwtGuard({ issuer: down.issuer, audience, clock });
      await expect(guard.guard.hydrate()).rejects.toMatchObject({
        code: 'ERR_KEYS_UNAVAILABLE',
        status: 503,
      });
    } finally {
      await down.close();
    }
  });
});
