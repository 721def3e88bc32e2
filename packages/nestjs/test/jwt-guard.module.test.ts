import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import {
  Controller,
  Get,
  Injectable,
  Module,
  UseGuards,
  type INestApplication,
} from '@nestjs/common';
import request from 'supertest';
import { ConfigurationError, type AuthContext, type GuardOptions } from '@jwt-guard/core';
import {
  Auth,
  InjectJwtGuard,
  JwtAuthGuard,
  JwtGuard,
  JwtGuardModule,
  RequireScope,
} from '@jwt-guard/nestjs';
import { createNestApp, PLATFORMS, staticFixture } from './platforms.js';

const fixture = staticFixture();

@Controller('items')
class ItemsController {
  @Get()
  @RequireScope('read:items')
  list(@Auth() auth: AuthContext) {
    return { sub: auth.subject };
  }
}

// Stands in for @nestjs/config's ConfigService: forRootAsync must wait for an injected provider.
@Injectable()
class ConfigService {
  get(name: 'ISSUER_URL' | 'AUDIENCE'): string {
    return name === 'ISSUER_URL' ? fixture.options.issuer : fixture.options.audience;
  }
}

@Module({ providers: [ConfigService], exports: [ConfigService] })
class ConfigModule {}

@Injectable()
class TokenInspector {
  constructor(@InjectJwtGuard() readonly guard: JwtGuard) {}
}

@Controller('open')
class OpenController {
  @Get()
  open(@Auth() auth: AuthContext | undefined) {
    return { anonymous: auth === undefined };
  }
}

@Controller('guarded')
@UseGuards(JwtAuthGuard)
class GuardedController {
  @Get()
  guarded(@Auth() auth: AuthContext) {
    return { sub: auth.subject };
  }
}

// A feature module that does not import JwtGuardModule: the guard still resolves its
// dependencies there, because the module is global.
@Module({ controllers: [OpenController, GuardedController] })
class FeatureModule {}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe.each(PLATFORMS)('JwtGuardModule on %s', (platform) => {
  let app: INestApplication<Server> | undefined;
  afterEach(() => app?.close());
  async function start(
    imports: Parameters<typeof createNestApp>[1],
  ): Promise<INestApplication<Server>> {
    app = await createNestApp(platform, imports);
    return app;
  }

  it('forRoot guards every route by default (APP_GUARD)', async () => {
    @Module({ imports: [JwtGuardModule.forRoot(fixture.options)], controllers: [ItemsController] })
    class AppModule {}
    const app = await start([AppModule]);
    await request(app.getHttpServer())
      .get('/items')
      .set(bearer(fixture.token({ scope: 'read:items' })))
      .expect(200, { sub: 'user-1' });
    await request(app.getHttpServer())
      .get('/items')
      .expect(401)
      .expect('WWW-Authenticate', 'Bearer');
  });

  it('forRootAsync takes its options from an injected config provider', async () => {
    const options = { ...fixture.options };
    @Module({
      imports: [
        JwtGuardModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService): GuardOptions => ({
            ...options,
            issuer: config.get('ISSUER_URL'),
            audience: config.get('AUDIENCE'),
          }),
        }),
      ],
      controllers: [ItemsController],
    })
    class AppModule {}
    const app = await start([AppModule]);
    await request(app.getHttpServer())
      .get('/items')
      .set(bearer(fixture.token({ scope: 'read:items' })))
      .expect(200, { sub: 'user-1' });
    await request(app.getHttpServer())
      .get('/items')
      .set(bearer(fixture.token({ scope: 'profile' })))
      .expect(403);
  });

  it('global: false guards only what @UseGuards(JwtAuthGuard) names', async () => {
    const app = await start([
      JwtGuardModule.forRoot({ ...fixture.options, global: false }),
      FeatureModule,
    ]);
    await request(app.getHttpServer()).get('/open').expect(200, { anonymous: true });
    await request(app.getHttpServer())
      .get('/guarded')
      .expect(401)
      .expect('WWW-Authenticate', 'Bearer');
    await request(app.getHttpServer())
      .get('/guarded')
      .set(bearer(fixture.token()))
      .expect(200, { sub: 'user-1' });
  });

  it('global: false also works through forRootAsync', async () => {
    const app = await start([
      JwtGuardModule.forRootAsync({ useFactory: () => fixture.options, global: false }),
      FeatureModule,
    ]);
    await request(app.getHttpServer()).get('/open').expect(200, { anonymous: true });
    await request(app.getHttpServer()).get('/guarded').expect(401);
  });

  it('provides the core guard under JwtGuard, injectable with InjectJwtGuard()', async () => {
    @Module({
      imports: [JwtGuardModule.forRoot(fixture.options)],
      providers: [TokenInspector],
    })
    class AppModule {}
    const app = await start([AppModule]);
    const inspector = app.get(TokenInspector);
    expect(inspector.guard).toBe(app.get<JwtGuard>(JwtGuard));
    const auth = await inspector.guard.verify(fixture.token({ scope: 'a b' }));
    expect(auth.scopes).toEqual(['a', 'b']);
    await expect(inspector.guard.verify('abc.def')).rejects.toMatchObject({
      code: 'ERR_TOKEN_MALFORMED',
    });
  });

  it('stops the application at startup when the options are wrong', async () => {
    const { issuer, keys, clock } = fixture.options;
    const started = createNestApp(platform, [
      JwtGuardModule.forRoot({ issuer, keys, clock } as unknown as GuardOptions),
    ]);
    await expect(started).rejects.toThrow(ConfigurationError);
    await expect(started).rejects.toThrow(/"audience" is required/);
  });
});

// The second Jest project maps @nestjs/* to Nest 12: make sure each project runs the Nest it says.
it('runs on the Nest major version of its Jest project', () => {
  const { version } = JSON.parse(
    readFileSync(require.resolve('@nestjs/core/package.json'), 'utf8'),
  ) as { version: string };
  const expected = (globalThis as { NEST_MAJOR?: number }).NEST_MAJOR;
  expect(version.split('.')[0]).toBe(String(expected));
});
