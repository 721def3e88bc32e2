import type { Server } from 'node:http';
import {
  Catch,
  Controller,
  Get,
  HttpException,
  Injectable,
  Module,
  UseGuards,
  type ArgumentsHost,
  type ExceptionFilter,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { ExternalContextCreator, HttpAdapterHost } from '@nestjs/core';
import request from 'supertest';
import { createMemoryStore, isJwtGuardError, type GuardOptions } from '@jwt-guard/core';
import {
  JwtAuthGuard,
  JwtGuardException,
  JwtGuardModule,
  RequireScope,
  type JwtGuardedRequest,
} from '@jwt-guard/nestjs';
import { createTokenFactory, startKeyServer, testKeys, type KeyServer } from '@jwt-guard/testkit';
import { createNestApp, PLATFORMS, staticFixture, type Platform } from './platforms.js';

const fixture = staticFixture();

@Controller('items')
class ItemsController {
  @Get()
  @RequireScope('read:items')
  list() {
    return [];
  }
}

// A user's own filter for every HttpException: it keeps working, and the challenge that the
// guard put on the response survives it.
@Catch(HttpException)
class ProblemFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: HttpException, host: ArgumentsHost): void {
    const code = exception instanceof JwtGuardException ? exception.code : undefined;
    this.adapterHost.httpAdapter.reply(
      host.switchToHttp().getResponse(),
      { problem: exception.getStatus(), code },
      exception.getStatus(),
    );
  }
}

function appModule(options: GuardOptions) {
  @Module({ imports: [JwtGuardModule.forRoot(options)], controllers: [ItemsController] })
  class AppModule {}
  return AppModule;
}

const failingStore = {
  ...createMemoryStore(),
  isRevoked: () => Promise.reject(new Error('connection refused')),
};

// What cookie-parser and @fastify/cookie leave in request.cookies: one value per name, the
// first one sent.
function installCookieParser(app: INestApplication<Server>, platform: Platform): void {
  const parse = (header: string | undefined): Record<string, string> => {
    const cookies: Record<string, string> = {};
    for (const pair of (header ?? '').split(';')) {
      const [name = '', value = ''] = pair.trim().split('=');
      cookies[name] ??= value;
    }
    return cookies;
  };
  type Parsed = { headers: { cookie?: string }; cookies?: Record<string, string> };
  if (platform === 'express') {
    app.use((req: Parsed, _res: unknown, next: () => void) => {
      req.cookies = parse(req.headers.cookie);
      next();
    });
  } else {
    const fastify = app.getHttpAdapter().getInstance() as {
      addHook(
        name: 'onRequest',
        hook: (req: Parsed, reply: unknown, done: () => void) => void,
      ): void;
    };
    fastify.addHook('onRequest', (req, _reply, done) => {
      req.cookies = parse(req.headers.cookie);
      done();
    });
  }
}

describe.each(PLATFORMS)('JwtAuthGuard refusals on %s', (platform) => {
  let down: KeyServer;
  const apps: INestApplication<Server>[] = [];
  beforeAll(async () => {
    down = await startKeyServer({ keys: [testKeys().ES256] });
    down.setFault({ kind: 'down' });
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await down.close();
  });
  async function serverFor(
    options: GuardOptions = fixture.options,
    configure?: (app: INestApplication<Server>) => void,
  ): Promise<Server> {
    const app = await createNestApp(platform, [appModule(options)], configure);
    apps.push(app);
    return app.getHttpServer();
  }

  it('401 without a token: a bare Bearer challenge and the stable code', async () => {
    const res = await request(await serverFor())
      .get('/items')
      .expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'unauthorized',
      code: 'ERR_TOKEN_MISSING',
      message: 'Authentication required',
    });
  });

  it('401 invalid_token for an expired token', async () => {
    const now = fixture.clock.nowSeconds();
    const res = await request(await serverFor())
      .get('/items')
      .set('Authorization', `Bearer ${fixture.token({ iat: now - 960, exp: now - 60 })}`)
      .expect(401);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The access token expired"',
    );
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'invalid_token',
      code: 'ERR_TOKEN_EXPIRED',
      message: 'The access token expired',
    });
  });

  it('403 insufficient_scope naming the scope', async () => {
    const res = await request(await serverFor())
      .get('/items')
      .set('Authorization', `Bearer ${fixture.token({ scope: 'profile' })}`)
      .expect(403);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="read:items"',
    );
    expect(res.body).toEqual({
      statusCode: 403,
      error: 'insufficient_scope',
      code: 'ERR_SCOPE_INSUFFICIENT',
      message: 'The access token lacks a required scope',
    });
  });

  it('400 invalid_request for a malformed Authorization header', async () => {
    const res = await request(await serverFor())
      .get('/items')
      .set('Authorization', 'Bearer')
      .expect(400);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="invalid_request", error_description="The Authorization header is malformed"',
    );
    expect(res.body).toEqual({
      statusCode: 400,
      error: 'invalid_request',
      code: 'ERR_AUTHORIZATION_MALFORMED',
      message: 'The Authorization header is malformed',
    });
  });

  it('503 without a challenge when the keys are unavailable', async () => {
    const { audience, clock } = fixture.options;
    const mint = createTokenFactory({ issuer: down.issuer, audience, clock });
    const res = await request(await serverFor({ issuer: down.issuer, audience, clock }))
      .get('/items')
      .set('Authorization', `Bearer ${mint.sign(testKeys().ES256, { scope: 'read:items' })}`)
      .expect(503);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'temporarily_unavailable',
      code: 'ERR_KEYS_UNAVAILABLE',
      message: 'The signing keys are unavailable',
    });
  });

  it('503 without a challenge when the store is unavailable', async () => {
    const res = await request(await serverFor({ ...fixture.options, store: failingStore }))
      .get('/items')
      .set('Authorization', `Bearer ${fixture.token({ scope: 'read:items' })}`)
      .expect(503);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'temporarily_unavailable',
      code: 'ERR_STORE_UNAVAILABLE',
      message: 'The token store is unavailable',
    });
  });

  // Cookie tossing: a sibling subdomain plants a second `at` cookie, which browsers may send
  // first. A cookie parser keeps one value per name; the guard must still see both.
  it('refuses a cookie sent twice even behind a cookie parser', async () => {
    const server = await serverFor(
      { ...fixture.options, tokenLocations: ['cookie'], cookie: { name: 'at' } },
      (app) => installCookieParser(app, platform),
    );
    await request(server)
      .get('/items')
      .set('Cookie', `at=${fixture.token({ scope: 'read:items' })}`)
      .expect(200);
    const planted = fixture.token({ sub: 'attacker', scope: 'read:items' });
    await request(server)
      .get('/items')
      .set('Cookie', `at=${planted}; at=${fixture.token({ scope: 'read:items' })}`)
      .expect(400, {
        statusCode: 400,
        error: 'invalid_request',
        code: 'ERR_MULTIPLE_TOKENS',
        message: 'The access token was sent by more than one method',
      });
  });

  it("leaves the user's own exception filter in charge, with the challenge kept", async () => {
    const server = await serverFor(fixture.options, (app) =>
      app.useGlobalFilters(new ProblemFilter(app.get(HttpAdapterHost))),
    );
    await request(server)
      .get('/items')
      .expect(401, { problem: 401, code: 'ERR_TOKEN_MISSING' })
      .expect('WWW-Authenticate', 'Bearer');
    await request(server)
      .get('/items')
      .set('Authorization', `Bearer ${fixture.token({ scope: 'profile' })}`)
      .expect(403, { problem: 403, code: 'ERR_SCOPE_INSUFFICIENT' })
      .expect(
        'WWW-Authenticate',
        'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="read:items"',
      );
  });
});

// GraphQL resolvers (and other non-HTTP handlers) are run by Nest's ExternalContextCreator with
// their own context type; @nestjs/graphql does exactly this with 'graphql'. The resolver's
// arguments are (root, args, context, info), and the request is in the context.
interface GqlContext {
  readonly req: JwtGuardedRequest;
}

@Injectable()
class GqlJwtAuthGuard extends JwtAuthGuard {
  // What GqlExecutionContext.create(context).getContext().req returns.
  override getRequest(context: ExecutionContext): JwtGuardedRequest {
    return context.getArgByIndex<GqlContext>(2).req;
  }
}

@Injectable()
@UseGuards(GqlJwtAuthGuard)
class OrdersResolver {
  @RequireScope('orders:read')
  orders(_root: unknown, _args: unknown, context: GqlContext) {
    return { sub: context.req.auth?.subject, scopes: context.req.auth?.scopes };
  }
}

@Injectable()
class UnguardedResolver {
  orders() {
    return [];
  }
}

describe('JwtAuthGuard in a GraphQL context', () => {
  const apps: INestApplication<Server>[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  async function resolverOf<T extends object>(
    global: boolean,
    resolver: new (...args: never[]) => T,
    method: keyof T & string,
  ): Promise<(...args: unknown[]) => Promise<unknown>> {
    @Module({
      imports: [JwtGuardModule.forRoot({ ...fixture.options, global })],
      providers: [resolver],
    })
    class GraphqlModule {}
    const app = await createNestApp('express', [GraphqlModule]);
    apps.push(app);
    const instance = app.get(resolver);
    return app
      .get(ExternalContextCreator)
      .create(
        instance,
        instance[method] as (...args: unknown[]) => unknown,
        method,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        'graphql',
      ) as (...args: unknown[]) => Promise<unknown>;
  }

  const contextWith = (...rawHeaders: string[]): GqlContext => ({
    req: { method: 'POST', url: '/graphql', rawHeaders },
  });

  it('guards a resolver through an overridden getRequest', async () => {
    const resolve = await resolverOf(false, OrdersResolver, 'orders');
    const token = fixture.token({ scope: 'orders:read' });
    await expect(
      resolve(undefined, {}, contextWith('Authorization', `Bearer ${token}`), {}),
    ).resolves.toEqual({ sub: 'user-1', scopes: ['orders:read'] });

    const refused: unknown = await resolve(
      undefined,
      {},
      contextWith('Authorization', `Bearer ${fixture.token({ scope: 'profile' })}`),
      {},
    ).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(JwtGuardException);
    const exception = refused as JwtGuardException;
    expect(exception.getStatus()).toBe(403);
    expect(exception.code).toBe('ERR_SCOPE_INSUFFICIENT');
    expect(exception.headers['WWW-Authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"',
    );
    expect(isJwtGuardError(exception.cause)).toBe(true);

    await expect(resolve(undefined, {}, contextWith(), {})).rejects.toMatchObject({
      code: 'ERR_TOKEN_MISSING',
    });
  });

  // A global guard that cannot find an HTTP request refuses instead of letting the call through.
  it('fails closed in a non-HTTP context when getRequest is not overridden', async () => {
    const resolve = await resolverOf(true, UnguardedResolver, 'orders');
    await expect(resolve(undefined, {}, contextWith(), {})).rejects.toThrow(
      'JwtAuthGuard found no HTTP request in a "graphql" context; override getRequest',
    );
  });
});
