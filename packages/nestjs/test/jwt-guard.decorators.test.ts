import type { Server } from 'node:http';
import { Controller, Get, HttpCode, Module, Post, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ConfigurationError, defineRequirement, type AuthContext } from '@jwt-guard/core';
import {
  Auth,
  JwtGuardModule,
  OneTimeToken,
  Public,
  RequireAnyScope,
  RequireAuth,
  RequireClaim,
  RequireScope,
} from '@jwt-guard/nestjs';
import { createNestApp, PLATFORMS, staticFixture } from './platforms.js';

const fixture = staticFixture();

const insufficientScope = (scope: string) =>
  `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="${scope}"`;
const missing = {
  statusCode: 401,
  error: 'unauthorized',
  code: 'ERR_TOKEN_MISSING',
  message: 'Authentication required',
};
const replayed = {
  statusCode: 401,
  error: 'invalid_token',
  code: 'ERR_TOKEN_REPLAYED',
  message: 'The access token was already used',
};
const replayedChallenge =
  'Bearer error="invalid_token", error_description="The access token was already used"';
const claimMismatch =
  'Bearer error="insufficient_scope", error_description="The access token does not meet the requirements of this resource"';

@Controller('orders')
@RequireScope('orders')
class OrdersController {
  @Get()
  list(@Auth() auth: AuthContext) {
    return { sub: auth.subject, scopes: auth.scopes };
  }

  @Post('refunds')
  @RequireScope('admin')
  refund() {
    return { refunded: true };
  }

  @Get('catalog')
  @Public()
  catalog(@Auth() auth: AuthContext | undefined) {
    return { anonymous: auth === undefined };
  }

  @Get('reports')
  @RequireAnyScope('reports:read', 'admin')
  @RequireClaim('tenant', 'acme')
  reports() {
    return { reports: [] };
  }

  @Get('stacked')
  @RequireScope('a')
  @RequireScope('b')
  stacked() {
    return { stacked: true };
  }

  @Get('staff')
  @RequireClaim('roles', (roles) => Array.isArray(roles) && roles.includes('staff'))
  staff() {
    return { staff: true };
  }

  @Get('partner')
  @RequireAuth(defineRequirement({ audience: 'https://partner.example/' }))
  partner() {
    return { partner: true };
  }

  @Post('pay')
  @OneTimeToken()
  pay() {
    return { paid: true };
  }

  @Post('pay-again')
  @OneTimeToken()
  payAgain() {
    return { paid: true };
  }

  @Post('refund-once')
  @OneTimeToken('refunds')
  refundOnce() {
    return { refunded: true };
  }

  @Post('refund-twice')
  @OneTimeToken('refunds')
  refundTwice() {
    return { refunded: true };
  }

  // Its own requirement and @Public(): the class requirement is lifted, its own is not.
  @Get('preview')
  @Public()
  @RequireScope('preview')
  preview(@Auth() auth: AuthContext) {
    return { sub: auth.subject };
  }
}

// @Public() on the class, and handlers that ask for something of their own.
@Public()
@Controller('shop')
class ShopController {
  @Get()
  index(@Auth() auth: AuthContext | undefined) {
    return { anonymous: auth === undefined };
  }

  @Get('admin')
  @RequireScope('admin')
  admin(@Auth() auth: AuthContext) {
    return { sub: auth.subject };
  }

  @Get('any')
  @RequireAnyScope('staff', 'admin')
  any() {
    return { any: true };
  }

  @Get('claim')
  @RequireClaim('tenant', 'acme')
  claim() {
    return { claim: true };
  }

  @Get('partner')
  @RequireAuth(defineRequirement({ audience: 'https://partner.example/' }))
  partner() {
    return { partner: true };
  }

  @Post('redeem')
  @HttpCode(200)
  @OneTimeToken('vouchers')
  redeem() {
    return { redeemed: true };
  }
}

// @Public() and a requirement on the same class: the requirement wins (fail closed).
@Public()
@RequireScope('ops')
@Controller('ops')
class OpsController {
  @Get()
  ops() {
    return { ops: true };
  }
}

// @OneTimeToken on the class applies to every handler; a handler's own scope wins.
@Controller('vouchers')
@OneTimeToken('vouchers')
class VouchersController {
  @Post()
  @HttpCode(200)
  redeem() {
    return { redeemed: true };
  }

  @Post('gift')
  @HttpCode(200)
  @OneTimeToken('gifts')
  gift() {
    return { gifted: true };
  }
}

@Controller('status')
@Public()
class StatusController {
  @Get()
  status() {
    return { ok: true };
  }
}

@Controller('me')
class MeController {
  @Get()
  me(@Auth() auth: AuthContext | undefined) {
    return auth === undefined ? { anonymous: true } : { sub: auth.subject };
  }
}

describe.each(PLATFORMS)('decorators on %s', (platform) => {
  let app: INestApplication<Server>;
  let optional: INestApplication<Server>;
  beforeAll(async () => {
    @Module({
      imports: [JwtGuardModule.forRoot(fixture.options)],
      controllers: [
        OrdersController,
        StatusController,
        MeController,
        ShopController,
        OpsController,
        VouchersController,
      ],
    })
    class AppModule {}
    app = await createNestApp(platform, [AppModule]);
    @Module({
      imports: [JwtGuardModule.forRoot({ ...fixture.options, credentialsRequired: false })],
      controllers: [OrdersController, MeController, ShopController],
    })
    class OptionalModule {}
    optional = await createNestApp(platform, [OptionalModule]);
  });
  afterAll(() => Promise.all([app.close(), optional.close()]));

  const get = (path: string, claims?: Record<string, unknown>) => {
    const req = request(app.getHttpServer()).get(path);
    return claims === undefined ? req : req.set('Authorization', `Bearer ${fixture.token(claims)}`);
  };
  const post = (path: string, token: string) =>
    request(app.getHttpServer()).post(path).set('Authorization', `Bearer ${token}`);

  it('applies the class requirement to every handler', async () => {
    await get('/orders', { scope: 'orders' }).expect(200, { sub: 'user-1', scopes: ['orders'] });
    await get('/orders', { scope: 'profile' })
      .expect(403)
      .expect('WWW-Authenticate', insufficientScope('orders'));
  });

  it('requires the class and the method requirements together, naming both', async () => {
    await post('/orders/refunds', fixture.token({ scope: 'orders admin' })).expect(201);
    for (const scope of ['orders', 'admin']) {
      await post('/orders/refunds', fixture.token({ scope }))
        .expect(403)
        .expect('WWW-Authenticate', insufficientScope('orders admin'));
    }
  });

  it('@Public() on a method lifts the class requirement and skips the token entirely', async () => {
    await get('/orders/catalog').expect(200, { anonymous: true });
    // A broken token on a public route is not even read.
    await request(app.getHttpServer())
      .get('/orders/catalog')
      .set('Authorization', 'Bearer abc.def')
      .expect(200, { anonymous: true });
    await request(app.getHttpServer())
      .get('/orders/catalog')
      .set('Authorization', 'Bearer')
      .expect(200);
  });

  it('@Public() on a controller opens all of its routes', async () => {
    await get('/status').expect(200, { ok: true });
  });

  it('merges several decorators on one handler', async () => {
    await get('/orders/stacked', { scope: 'orders a b' }).expect(200);
    await get('/orders/stacked', { scope: 'orders a' })
      .expect(403)
      .expect('WWW-Authenticate', insufficientScope('orders a b'));
    await get('/orders/reports', { scope: 'orders admin', tenant: 'acme' }).expect(200);
    await get('/orders/reports', { scope: 'orders reports:read', tenant: 'acme' }).expect(200);
    await get('/orders/reports', { scope: 'orders', tenant: 'acme' })
      .expect(403)
      .expect('WWW-Authenticate', insufficientScope('reports:read admin'));
    await get('/orders/reports', { scope: 'orders admin', tenant: 'umbrella' })
      .expect(403)
      .expect('WWW-Authenticate', claimMismatch);
  });

  it('@RequireClaim takes a predicate', async () => {
    await get('/orders/staff', { scope: 'orders', roles: ['dev', 'staff'] }).expect(200);
    await get('/orders/staff', { scope: 'orders', roles: 'staff' })
      .expect(403)
      .expect('WWW-Authenticate', claimMismatch);
  });

  it('@RequireAuth takes a core requirement (here an extra audience)', async () => {
    await get('/orders/partner', {
      scope: 'orders',
      aud: [fixture.options.audience, 'https://partner.example/'],
    }).expect(200);
    await get('/orders/partner', { scope: 'orders' })
      .expect(401)
      .expect(
        'WWW-Authenticate',
        'Bearer error="invalid_token", error_description="The access token audience is not accepted"',
      );
  });

  it('@OneTimeToken() accepts a token once across every one-time route', async () => {
    const token = fixture.token({ scope: 'orders' });
    await post('/orders/pay', token).expect(201, { paid: true });
    await post('/orders/pay', token)
      .expect(401, replayed)
      .expect('WWW-Authenticate', replayedChallenge);
    // The default scope is shared: another one-time route has seen this token too.
    await post('/orders/pay-again', token)
      .expect(401, replayed)
      .expect('WWW-Authenticate', replayedChallenge);
    const withoutJti = await post('/orders/pay', fixture.token({ scope: 'orders', jti: undefined }))
      .expect(401)
      .expect(
        'WWW-Authenticate',
        'Bearer error="invalid_token", error_description="The access token lacks a required claim"',
      );
    expect(withoutJti.body).toMatchObject({ code: 'ERR_CLAIM_MISSING' });
  });

  it('@OneTimeToken(scope) gives the routes that name it a scope of their own', async () => {
    const token = fixture.token({ scope: 'orders' });
    await post('/orders/pay', token).expect(201);
    // Used on the default scope, new to 'refunds'; once there, on every 'refunds' route.
    await post('/orders/refund-once', token).expect(201, { refunded: true });
    await post('/orders/refund-twice', token)
      .expect(401, replayed)
      .expect('WWW-Authenticate', replayedChallenge);
  });

  it('@OneTimeToken on a controller covers its handlers; a handler scope wins', async () => {
    const token = fixture.token();
    await post('/vouchers', token).expect(200, { redeemed: true });
    await post('/vouchers', token).expect(401, replayed);
    // 'gifts', not the class's 'vouchers'; and ShopController's 'vouchers' is the same scope.
    await post('/vouchers/gift', token).expect(200, { gifted: true });
    await post('/vouchers/gift', token).expect(401, replayed);
    await post('/shop/redeem', token).expect(401, replayed);
  });

  it.each([
    ['an empty string', ''],
    ['a number', 42],
    ['null', null],
  ])('@OneTimeToken(scope) refuses %s when the class is defined', (_, scope) => {
    const define = () => {
      class Payments {
        @OneTimeToken(scope as string)
        pay() {}
      }
      return Payments;
    };
    expect(define).toThrow(ConfigurationError);
    expect(define).toThrow(
      '@OneTimeToken(scope): the scope must be a non-empty string; omit it to share the one scope of every one-time route',
    );
  });

  it.each([
    ['@RequireScope()', () => RequireScope()],
    ['@RequireAnyScope()', () => RequireAnyScope()],
  ])('%s without a scope fails when the class is defined', (_, decorator) => {
    // It would let every valid token through: a slip, never a policy.
    expect(decorator).toThrow(ConfigurationError);
    expect(decorator).toThrow(/is empty; name at least one scope/);
  });

  describe('@Public() on a controller', () => {
    it('opens the handlers that ask for nothing', async () => {
      await get('/shop').expect(200, { anonymous: true });
    });

    it.each(['/shop/admin', '/shop/any', '/shop/claim', '/shop/partner'])(
      'does not open %s, whose handler has its own requirement',
      async (path) => {
        await get(path).expect(401, missing).expect('WWW-Authenticate', 'Bearer');
        await request(optional.getHttpServer())
          .get(path)
          .expect(401, missing)
          .expect('WWW-Authenticate', 'Bearer');
      },
    );

    it("applies the handler's own requirements", async () => {
      await get('/shop/admin', { scope: 'admin' }).expect(200, { sub: 'user-1' });
      await get('/shop/admin', { scope: 'orders' })
        .expect(403)
        .expect('WWW-Authenticate', insufficientScope('admin'));
      await get('/shop/any', { scope: 'staff' }).expect(200);
      await get('/shop/claim', { tenant: 'acme' }).expect(200);
      await get('/shop/claim', { tenant: 'umbrella' })
        .expect(403)
        .expect('WWW-Authenticate', claimMismatch);
      await get('/shop/partner', {
        aud: [fixture.options.audience, 'https://partner.example/'],
      }).expect(200);
    });

    it('does not open a one-time handler', async () => {
      await request(app.getHttpServer())
        .post('/shop/redeem')
        .expect(401, missing)
        .expect('WWW-Authenticate', 'Bearer');
      const token = fixture.token();
      await post('/shop/redeem', token).expect(200, { redeemed: true });
      await post('/shop/redeem', token)
        .expect(401, replayed)
        .expect('WWW-Authenticate', replayedChallenge);
    });

    it('does not lift a requirement on the same controller', async () => {
      await get('/ops').expect(401, missing).expect('WWW-Authenticate', 'Bearer');
      await get('/ops', { scope: 'ops' }).expect(200, { ops: true });
    });
  });

  it("@Public() on a handler with its own requirement lifts only the class's", async () => {
    await get('/orders/preview').expect(401, missing).expect('WWW-Authenticate', 'Bearer');
    await get('/orders/preview', { scope: 'preview' }).expect(200, { sub: 'user-1' });
    await get('/orders/preview', { scope: 'orders' })
      .expect(403)
      .expect('WWW-Authenticate', insufficientScope('preview'));
  });

  it('checks requirements before consuming a one-time token', async () => {
    const token = fixture.token({ scope: 'profile' });
    await post('/orders/pay', token).expect(403);
    await post('/orders/pay', token).expect(403);
  });

  it('@Auth() is undefined for an anonymous caller under credentialsRequired: false', async () => {
    const server = optional.getHttpServer();
    await request(server).get('/me').expect(200, { anonymous: true });
    await request(server)
      .get('/me')
      .set('Authorization', `Bearer ${fixture.token()}`)
      .expect(200, { sub: 'user-1' });
    // A route with requirements still wants a token.
    await request(server).get('/orders').expect(401).expect('WWW-Authenticate', 'Bearer');
  });
});
