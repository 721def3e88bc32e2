// The NestJS adapter, on Express and on Fastify, against tokens a real authorization server
// issued: the testkit's oidc-provider interop scenario, with Nest's default exception filter
// rendering the refusals.
import { Controller, Get } from '@nestjs/common';
import type { AuthContext, GuardOptions } from '@jwt-guard/core';
import {
  Auth,
  JwtGuardModule,
  RequireAcr,
  RequireAuthAge,
  RequireDpop,
  RequireScope,
} from '@jwt-guard/nestjs';
import { createInteropEnv, interopTests, type InteropHarness } from '@jwt-guard/testkit/jest';
import { createNestApp, PLATFORMS, type Platform } from './platforms.js';

const body = (auth: AuthContext) => ({ sub: auth.subject, scopes: auth.scopes });

@Controller()
class OrdersController {
  @Get('orders')
  @RequireScope('read:orders')
  orders(@Auth() auth: AuthContext) {
    return body(auth);
  }

  @Get('admin')
  @RequireScope('admin:orders')
  admin(@Auth() auth: AuthContext) {
    return body(auth);
  }

  @Get('transfers')
  @RequireDpop()
  transfers(@Auth() auth: AuthContext) {
    return body(auth);
  }

  @Get('payouts')
  @RequireAcr('urn:example:mfa')
  payouts(@Auth() auth: AuthContext) {
    return body(auth);
  }

  @Get('account')
  @RequireAuthAge(300)
  account(@Auth() auth: AuthContext) {
    return body(auth);
  }
}

const harness = (platform: Platform): InteropHarness => ({
  async createApp(options, tls) {
    const app = await createNestApp(
      platform,
      [JwtGuardModule.forRoot(options as unknown as GuardOptions)],
      undefined,
      [OrdersController],
      tls,
    );
    return { server: app.getHttpServer(), close: () => app.close() };
  },
});

const env = createInteropEnv();
beforeAll(() => env.start());
afterAll(() => env.close());

describe.each(PLATFORMS)('on %s', (platform: Platform) => {
  interopTests(env, harness(platform));
});
