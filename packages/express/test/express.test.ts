// What only the Express adapter does: rendering through Express's own error handling,
// `req.auth` typing, wiring mistakes, router mounting, one-time route names. The behaviour
// shared with every adapter is the conformance matrix (conformance.test.ts).
import { createServer } from 'node:http';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
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
} from '@jwt-guard/express';
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

const answer: RequestHandler = (req, res) => {
  // Compile-time: `req.auth` is the AuthContext through declaration merging, not `any`.
  const typed: Equals<typeof req.auth, AuthContext> = true;
  res.json({ typed, sub: req.auth.subject, scopes: req.auth.scopes });
};

describe("Express's default error handler (finalhandler), no custom handler", () => {
  const app = express();
  app.use(jwtGuard(options));
  app.get('/items', requireScope('read:items'), answer);

  it('renders 401 with the bare challenge when no token was sent', async () => {
    const res = await request(app).get('/items');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('renders 401 invalid_token with its description', async () => {
    const res = await request(app)
      .get('/items')
      .set(
        'Authorization',
        bearer({ iat: clock.nowSeconds() - 960, exp: clock.nowSeconds() - 60 }),
      );
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The access token expired"',
    );
  });

  it('renders 403 insufficient_scope naming the scope', async () => {
    const res = await request(app)
      .get('/items')
      .set('Authorization', bearer({ scope: 'profile' }));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="read:items"',
    );
  });

  // supertest keeps one value per header name: two Authorization headers need a raw request.
  it('renders 400 invalid_request with its description for two Authorization headers', async () => {
    const server = await listenOnLoopback(createServer(app));
    try {
      const res = await sendRequest(server.origin, {
        path: '/items',
        headers: ['Authorization', bearer(), 'Authorization', bearer()],
      });
      expect(res.status).toBe(400);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer error="invalid_request", error_description="More than one Authorization header was sent"',
      );
    } finally {
      await server.close();
    }
  });

  it('renders 503 without a challenge when the keys are unavailable', async () => {
    const down = await startKeyServer({ keys: [keys.ES256] });
    down.setFault({ kind: 'down' });
    try {
      const outage = express();
      outage.use(jwtGuard({ issuer: down.issuer, audience, clock }));
      outage.get('/me', answer);
      const token = createTokenFactory({ issuer: down.issuer, audience, clock }).sign(keys.ES256);
      const res = await request(outage).get('/me').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(503);
      expect(res.headers['www-authenticate']).toBeUndefined();
    } finally {
      await down.close();
    }
  });

  it('lets the request through with req.auth set', async () => {
    const res = await request(app)
      .get('/items')
      .set('Authorization', bearer({ scope: 'read:items' }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ typed: true, sub: 'user-1', scopes: ['read:items'] });
  });
});

describe('an app error handler', () => {
  it('reads the stable code and status of the refusal', async () => {
    const app = express();
    app.use(jwtGuard(options));
    app.get('/reports', requireAnyScope('reports:read', 'admin'), answer);
    const handler: ErrorRequestHandler = (err, _req, res, next) => {
      if (!isJwtGuardError(err)) return next(err);
      res
        .status(err.status)
        .set(err.headers)
        .json({ code: err.code, requirement: err.requirement });
    };
    app.use(handler);

    const res = await request(app)
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
    const app = express();
    const seen: unknown[] = [];
    app.get('/x', check, answer);
    app.use(((err, _req, res, next) => {
      if (res.headersSent) return next(err);
      seen.push(err);
      res.status(500).end();
    }) as ErrorRequestHandler);

    const res = await request(app)
      .get('/x')
      .set('Authorization', bearer({ scope: 'read:items' }));
    expect(res.status).toBe(500);
    expect(seen).toHaveLength(1);
    expect((seen[0] as Error).message).toBe(
      `${name}() needs app.use(jwtGuard(options)) (or the router's) before it`,
    );
  });
});

describe('a router-level jwtGuard', () => {
  const app = express();
  const api = express.Router();
  api.use(jwtGuard(options));
  api.get('/items', requireScope('read:items'), answer);
  app.use('/api', api);
  app.get('/catalogue', (_req, res) => {
    res.json({ public: true });
  });

  it('guards the routes of its router', async () => {
    await request(app).get('/api/items').expect(401).expect('WWW-Authenticate', 'Bearer');
    await request(app)
      .get('/api/items')
      .set('Authorization', bearer({ scope: 'read:items' }))
      .expect(200);
  });

  it('leaves the routes outside it alone', async () => {
    await request(app).get('/catalogue').expect(200, { public: true });
  });
});

describe('requireClaim with a predicate', () => {
  const app = express();
  app.use(jwtGuard(options));
  app.get(
    '/vault',
    requireClaim('level', (level) => typeof level === 'number' && level >= 3),
    answer,
  );
  app.get(
    '/deep',
    requireClaim('org', (org) => (org as { unit: { name: string } }).unit.name === 'vault'),
    answer,
  );

  it('passes when the predicate returns true', async () => {
    await request(app)
      .get('/vault')
      .set('Authorization', bearer({ level: 5 }))
      .expect(200);
  });

  it.each([
    ['false', { level: 1 }],
    ['a claim of another type', { level: '5' }],
    ['a missing claim', {}],
  ])('answers 403 ERR_CLAIM_MISMATCH for %s', async (_name, claims) => {
    const res = await request(app).get('/vault').set('Authorization', bearer(claims));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token does not meet the requirements of this resource"',
    );
  });

  it('denies with 403, not 500, when the predicate throws', async () => {
    await request(app).get('/deep').set('Authorization', bearer()).expect(403);
  });
});

describe('requireOneTimeToken scopes', () => {
  const app = express();
  const payments = express.Router();
  const tenants = express.Router({ mergeParams: true });
  app.use(jwtGuard(options));
  app.post('/a', requireOneTimeToken(), answer);
  app.post('/b', requireOneTimeToken(), answer);
  app.get('/download', requireOneTimeToken(), answer);
  payments.post('/transfer', requireOneTimeToken(), answer);
  app.use('/payments', payments);
  tenants.post('/export', requireOneTimeToken(), answer);
  app.use('/tenants/:tid', tenants);
  app.post('/transfer-1', requireOneTimeToken('transfer'), answer);
  app.post('/transfer-2', requireOneTimeToken('transfer'), answer);
  app.post('/report', requireOneTimeToken('report'), answer);
  const server = app;

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

describe('cookie mode behind a cookie parser', () => {
  // What cookie-parser (through the `cookie` package) leaves in req.cookies: one value per
  // name, the first one sent.
  const cookieParser: RequestHandler = (req, _res, next) => {
    const cookies: Record<string, string> = {};
    for (const pair of (req.headers.cookie ?? '').split(';')) {
      const [name = '', value = ''] = pair.trim().split('=');
      cookies[name] ??= value;
    }
    (req as { cookies?: Record<string, string> }).cookies = cookies;
    next();
  };
  const app = express();
  app.use(cookieParser);
  app.use(jwtGuard({ ...options, tokenLocations: ['cookie'], cookie: { name: 'at' } }));
  app.get('/me', answer);

  it('accepts the one cookie', async () => {
    await request(app)
      .get('/me')
      .set('Cookie', `at=${mint.sign(keys.ES256)}`)
      .expect(200);
  });

  // Cookie tossing: a sibling subdomain plants a second `at` cookie, which browsers may send
  // first. Core refuses two (the conformance matrix holds without a parser); the parsed
  // req.cookies must not hide the second one.
  it('still refuses the cookie sent twice with 400 ERR_MULTIPLE_TOKENS', async () => {
    const planted = mint.sign(keys.ES256, { sub: 'attacker' });
    const res = await request(app)
      .get('/me')
      .set('Cookie', `at=${planted}; at=${mint.sign(keys.ES256)}`);
    expect(res.status).toBe(400);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="invalid_request", error_description="The access token was sent by more than one method"',
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
    const app = express();
    app.use(guard);
    app.get('/me', answer);
    server.resetHits();

    await guard.guard.hydrate();
    expect(server.hits).toEqual({ jwks: 1, metadata: 1, redirected: 0 });

    const token = createTokenFactory({ issuer: server.issuer, audience, clock }).sign(keys.ES256);
    await request(app).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
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
