import type { Server } from 'node:http';
import { Controller, Get, Module, Post, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { defineRequirement, type AuthContext } from '@jwt-guard/core';
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
      controllers: [OrdersController, StatusController, MeController],
    })
    class AppModule {}
    app = await createNestApp(platform, [AppModule]);
    @Module({
      imports: [JwtGuardModule.forRoot({ ...fixture.options, credentialsRequired: false })],
      controllers: [OrdersController, MeController],
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

  it('@OneTimeToken() accepts a token once per handler', async () => {
    const token = fixture.token({ scope: 'orders' });
    await post('/orders/pay', token).expect(201, { paid: true });
    const replay = await post('/orders/pay', token).expect(401);
    expect(replay.body).toMatchObject({ code: 'ERR_TOKEN_REPLAYED' });
    // Each handler is its own scope: the same token is new to another one-time route.
    await post('/orders/pay-again', token).expect(201);
    await post('/orders/pay-again', token).expect(401);
    const withoutJti = await post(
      '/orders/pay',
      fixture.token({ scope: 'orders', jti: undefined }),
    );
    expect(withoutJti.status).toBe(401);
    expect(withoutJti.body).toMatchObject({ code: 'ERR_CLAIM_MISSING' });
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
