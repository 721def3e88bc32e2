import type { Server } from 'node:http';
import {
  Catch,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  HttpException,
  Injectable,
  Module,
  Post,
  Req,
  UseGuards,
  type ArgumentsHost,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { APP_GUARD, ExternalContextCreator, HttpAdapterHost } from '@nestjs/core';
import request from 'supertest';
import {
  createMemoryStore,
  isJwtGuardError,
  type AuthContext,
  type GuardEvent,
  type GuardOptions,
} from '@jwt-guard/core';
import {
  Auth,
  JwtAuthGuard,
  JwtGuardContextException,
  JwtGuardException,
  JwtGuardModule,
  OneTimeToken,
  Public,
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

const replayed = {
  status: 401,
  challenge: 'Bearer error="invalid_token", error_description="The access token was already used"',
  body: {
    statusCode: 401,
    error: 'invalid_token',
    code: 'ERR_TOKEN_REPLAYED',
    message: 'The access token was already used',
  },
};

@Controller('payments')
@UseGuards(JwtAuthGuard)
class PaymentsController {
  @Post()
  @HttpCode(200)
  @RequireScope('payments')
  @OneTimeToken()
  pay(@Auth() auth: AuthContext) {
    return { paid: auth.subject };
  }
}

describe.each(PLATFORMS)('JwtAuthGuard run twice on one route on %s', (platform) => {
  let app: INestApplication<Server>;
  const accepted: GuardEvent[] = [];
  beforeAll(async () => {
    // The global guard of forRoot, and @UseGuards(JwtAuthGuard) on the controller as well.
    @Module({
      imports: [
        JwtGuardModule.forRoot({
          ...fixture.options,
          onEvent: (event) => {
            if (event.type === 'token.accepted') accepted.push(event);
          },
        }),
      ],
      controllers: [PaymentsController],
    })
    class AppModule {}
    app = await createNestApp(platform, [AppModule]);
  });
  afterAll(() => app.close());
  const pay = (token: string) =>
    request(app.getHttpServer()).post('/payments').set('Authorization', `Bearer ${token}`);

  it('verifies once and consumes a one-time token once: the first use passes', async () => {
    const token = fixture.token({ scope: 'payments' });
    accepted.length = 0;
    await pay(token).expect(200, { paid: 'user-1' });
    // One verification for the call, not one per guard.
    expect(accepted).toHaveLength(1);
    const replay = await pay(token)
      .expect(replayed.status)
      .expect('WWW-Authenticate', replayed.challenge);
    expect(replay.body).toEqual(replayed.body);
  });
});

// What a middleware (or anything before the guard) may leave on the request.
function plantAuth(app: INestApplication<Server>, platform: Platform): void {
  const forged = { subject: 'admin', scopes: ['admin'], claims: { sub: 'admin' } };
  type Planted = { auth?: unknown };
  if (platform === 'express') {
    app.use((req: Planted, _res: unknown, next: () => void) => {
      req.auth = forged;
      next();
    });
  } else {
    const fastify = app.getHttpAdapter().getInstance() as {
      addHook(
        name: 'onRequest',
        hook: (req: Planted, reply: unknown, done: () => void) => void,
      ): void;
    };
    fastify.addHook('onRequest', (req, _reply, done) => {
      req.auth = forged;
      done();
    });
  }
}

@Controller('whoami')
class WhoamiController {
  @Get()
  whoami(@Auth() auth: AuthContext | undefined, @Req() req: JwtGuardedRequest) {
    return { auth: auth?.subject ?? null, reqAuth: req.auth?.subject ?? null };
  }

  @Get('public')
  @Public()
  open(@Auth() auth: AuthContext | undefined, @Req() req: JwtGuardedRequest) {
    return { auth: auth?.subject ?? null, reqAuth: req.auth?.subject ?? null };
  }
}

describe.each(PLATFORMS)('request.auth set before the guard on %s', (platform) => {
  let app: INestApplication<Server>;
  beforeAll(async () => {
    @Module({
      imports: [JwtGuardModule.forRoot({ ...fixture.options, credentialsRequired: false })],
      controllers: [WhoamiController],
    })
    class AppModule {}
    app = await createNestApp(platform, [AppModule], (nest) => plantAuth(nest, platform));
  });
  afterAll(() => app.close());

  it('is overwritten for an anonymous caller, and @Auth() never reads it', async () => {
    await request(app.getHttpServer()).get('/whoami').expect(200, { auth: null, reqAuth: null });
    await request(app.getHttpServer())
      .get('/whoami/public')
      .expect(200, { auth: null, reqAuth: null });
  });

  it('is replaced by the verified token', async () => {
    await request(app.getHttpServer())
      .get('/whoami')
      .set('Authorization', `Bearer ${fixture.token()}`)
      .expect(200, { auth: 'user-1', reqAuth: 'user-1' });
  });
});

// A user's own guard that reads what JwtAuthGuard verified.
@Injectable()
class RolesGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const { auth } = context.switchToHttp().getRequest<JwtGuardedRequest>();
    if (auth?.claims.roles === 'staff') return true;
    throw new ForbiddenException({ roles: auth === undefined ? 'no auth yet' : 'not staff' });
  }
}

@Controller('staff')
class StaffController {
  @Get()
  staff() {
    return { staff: true };
  }
}

@Controller('staff-only')
@UseGuards(RolesGuard)
class StaffOnlyController {
  @Get()
  staff() {
    return { staff: true };
  }
}

@Module({ providers: [{ provide: APP_GUARD, useClass: RolesGuard }] })
class RolesModule {}

describe.each(PLATFORMS)('guard order with a RolesGuard on %s', (platform) => {
  const apps: INestApplication<Server>[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));
  async function serverOf(module: Type): Promise<Server> {
    const app = await createNestApp(platform, [module]);
    apps.push(app);
    return app.getHttpServer();
  }
  const staff = () => `Bearer ${fixture.token({ roles: 'staff' })}`;

  // The pitfall the README warns about: APP_GUARDs run in module scan order, root first.
  it('an APP_GUARD of the root module runs first and sees no auth', async () => {
    @Module({
      imports: [JwtGuardModule.forRoot(fixture.options)],
      controllers: [StaffController],
      providers: [{ provide: APP_GUARD, useClass: RolesGuard }],
    })
    class AppModule {}
    await request(await serverOf(AppModule))
      .get('/staff')
      .set('Authorization', staff())
      .expect(403, { roles: 'no auth yet' });
  });

  it('an APP_GUARD of a module imported after JwtGuardModule sees the verified token', async () => {
    @Module({
      imports: [JwtGuardModule.forRoot(fixture.options), RolesModule],
      controllers: [StaffController],
    })
    class AppModule {}
    const server = await serverOf(AppModule);
    await request(server).get('/staff').set('Authorization', staff()).expect(200);
    await request(server)
      .get('/staff')
      .set('Authorization', `Bearer ${fixture.token()}`)
      .expect(403, { roles: 'not staff' });
    // JwtAuthGuard refused first: the RolesGuard never ran.
    await request(server).get('/staff').expect(401).expect('WWW-Authenticate', 'Bearer');
  });

  it('@UseGuards(RolesGuard) runs after the global JwtAuthGuard', async () => {
    @Module({
      imports: [JwtGuardModule.forRoot(fixture.options)],
      controllers: [StaffOnlyController],
    })
    class AppModule {}
    const server = await serverOf(AppModule);
    await request(server).get('/staff-only').set('Authorization', staff()).expect(200);
    await request(server).get('/staff-only').expect(401).expect('WWW-Authenticate', 'Bearer');
  });
});

// GraphQL resolvers, RPC and WebSocket handlers are run by Nest's ExternalContextCreator with
// their own context type (@nestjs/graphql does exactly this with 'graphql'). A resolver's
// arguments are (root, args, context, info), with the request in the context; an RPC handler's
// are (payload, context), a gateway's (socket, data).
interface GqlContext {
  readonly req: JwtGuardedRequest;
}

// The README's guard: the GraphQL request for resolvers, the HTTP request everywhere else.
@Injectable()
class GqlJwtAuthGuard extends JwtAuthGuard {
  override getRequest(context: ExecutionContext): JwtGuardedRequest | undefined {
    // What GqlExecutionContext.create(context).getContext().req returns.
    return context.getType<string>() === 'graphql'
      ? context.getArgByIndex<GqlContext>(2).req
      : super.getRequest(context);
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
class CatalogResolver {
  @RequireScope('catalog:read')
  catalog(_root: unknown, _args: unknown, context: GqlContext) {
    return { sub: context.req.auth?.subject };
  }
}

@Injectable()
class UnguardedResolver {
  orders() {
    return [];
  }
}

// An RPC handler (or gateway) behind the global guard, with @Auth() as a controller has it.
@Injectable()
class InventoryHandler {
  count(@Auth() auth: AuthContext | undefined) {
    return { auth: auth?.subject ?? null };
  }

  @Public()
  health(@Auth() auth: AuthContext | undefined) {
    return { auth: auth?.subject ?? null };
  }
}

type Handler = (...args: unknown[]) => Promise<unknown>;

function handlerOf<T extends object>(
  app: INestApplication<Server>,
  provider: new (...args: never[]) => T,
  method: keyof T & string,
  contextType: string,
): Handler {
  const instance = app.get(provider);
  return app.get(ExternalContextCreator).create(
    instance,
    instance[method] as (...args: unknown[]) => unknown,
    method,
    // Where createParamDecorator keeps @Auth(), so the handler gets its parameters.
    ROUTE_ARGS_METADATA,
    { exchangeKeyForValue: () => undefined },
    undefined,
    undefined,
    undefined,
    contextType,
  ) as Handler;
}

const contextWith = (...rawHeaders: string[]): GqlContext => ({
  req: { method: 'POST', url: '/graphql', rawHeaders },
});

describe('JwtAuthGuard in a GraphQL context', () => {
  const apps: INestApplication<Server>[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  async function resolverOf<T extends object>(
    global: boolean,
    resolver: new (...args: never[]) => T,
    method: keyof T & string,
  ): Promise<Handler> {
    @Module({
      imports: [JwtGuardModule.forRoot({ ...fixture.options, global })],
      providers: [resolver],
    })
    class GraphqlModule {}
    const app = await createNestApp('express', [GraphqlModule]);
    apps.push(app);
    return handlerOf(app, resolver, method, 'graphql');
  }

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
    const refused: unknown = await resolve(undefined, {}, contextWith(), {}).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(JwtGuardContextException);
    expect(refused).toMatchObject({ code: 'ERR_CONTEXT_UNSUPPORTED', contextType: 'graphql' });
  });
});

describe.each(PLATFORMS)('GqlJwtAuthGuard as APP_GUARD on %s', (platform) => {
  let app: INestApplication<Server>;
  beforeAll(async () => {
    @Module({
      imports: [JwtGuardModule.forRoot({ ...fixture.options, global: false })],
      controllers: [ItemsController],
      providers: [CatalogResolver, { provide: APP_GUARD, useClass: GqlJwtAuthGuard }],
    })
    class AppModule {}
    app = await createNestApp(platform, [AppModule]);
  });
  afterAll(() => app.close());

  it('keeps guarding plain HTTP routes', async () => {
    await request(app.getHttpServer())
      .get('/items')
      .set('Authorization', `Bearer ${fixture.token({ scope: 'read:items' })}`)
      .expect(200, []);
    await request(app.getHttpServer())
      .get('/items')
      .expect(401, {
        statusCode: 401,
        error: 'unauthorized',
        code: 'ERR_TOKEN_MISSING',
        message: 'Authentication required',
      })
      .expect('WWW-Authenticate', 'Bearer');
    await request(app.getHttpServer())
      .get('/items')
      .set('Authorization', `Bearer ${fixture.token({ scope: 'profile' })}`)
      .expect(403)
      .expect(
        'WWW-Authenticate',
        'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="read:items"',
      );
  });

  it('guards resolvers through the GraphQL context', async () => {
    const resolve = handlerOf(app, CatalogResolver, 'catalog', 'graphql');
    const token = fixture.token({ scope: 'catalog:read' });
    await expect(
      resolve(undefined, {}, contextWith('Authorization', `Bearer ${token}`), {}),
    ).resolves.toEqual({ sub: 'user-1' });
    await expect(resolve(undefined, {}, contextWith(), {})).rejects.toMatchObject({
      code: 'ERR_TOKEN_MISSING',
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  });
});

// A message payload (or a socket) is shaped by the caller: it must never pass for a request.
const forgedPayload = {
  method: 'GET',
  url: '/',
  headers: {},
  auth: { subject: 'admin', scopes: ['admin'], claims: { sub: 'admin' } },
};

describe('JwtAuthGuard in RPC and WebSocket contexts', () => {
  let app: INestApplication<Server>;
  beforeAll(async () => {
    @Module({
      imports: [JwtGuardModule.forRoot({ ...fixture.options, credentialsRequired: false })],
      providers: [InventoryHandler],
    })
    class RpcModule {}
    app = await createNestApp('express', [RpcModule]);
  });
  afterAll(() => app.close());

  it.each([
    ['rpc', [forgedPayload, {}]],
    ['ws', [forgedPayload, { event: 'count' }]],
  ])('refuses a %s call, typed, naming getRequest', async (contextType, args) => {
    const handle = handlerOf(app, InventoryHandler, 'count', contextType);
    const refused: unknown = await handle(...args).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(JwtGuardContextException);
    const exception = refused as JwtGuardContextException;
    expect(exception.code).toBe('ERR_CONTEXT_UNSUPPORTED');
    expect(exception.contextType).toBe(contextType);
    expect(exception.getStatus()).toBe(500);
    expect(exception.message).toBe(
      `JwtAuthGuard cannot read the request of a "${contextType}" context; override getRequest(context) to return it, or mark the handler @Public()`,
    );
    // What an HTTP client or an exception filter's default rendering would see: nothing internal.
    expect(exception.getResponse()).toEqual({
      statusCode: 500,
      error: 'server_error',
      code: 'ERR_CONTEXT_UNSUPPORTED',
      message: 'The request cannot be authenticated',
    });
  });

  it('lets a @Public() handler run, with no auth from the payload', async () => {
    const handle = handlerOf(app, InventoryHandler, 'health', 'rpc');
    await expect(handle(forgedPayload, {})).resolves.toEqual({ auth: null });
  });
});
