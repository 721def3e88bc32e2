// RFC 8705 certificate-bound tokens through the Nest adapter on a real TLS server, on Express
// (`req.socket`) and on Fastify (`req.raw.socket`): the guard reads the connection's client
// certificate, whichever platform serves HTTPS.
import { Controller, Get } from '@nestjs/common';
import type { AuthContext, GuardOptions } from '@jwt-guard/core';
import { Auth, JwtGuardModule } from '@jwt-guard/nestjs';
import { mtlsTests, type MtlsHarness } from '@jwt-guard/testkit/jest';
import { createNestApp, PLATFORMS, type Platform } from './platforms.js';

@Controller('me')
class MeController {
  @Get()
  me(@Auth() auth: AuthContext) {
    return { sub: auth.subject };
  }
}

const harness = (platform: Platform): MtlsHarness => ({
  async createApp(options, tls) {
    const app = await createNestApp(
      platform,
      [JwtGuardModule.forRoot(options as unknown as GuardOptions)],
      undefined,
      [MeController],
      tls,
    );
    return { server: app.getHttpServer(), close: () => app.close() };
  },
  // Nest's default exception filter adds the status to the error's own members.
  refusalBody: (status, members) => ({ statusCode: status, ...members }),
});

describe.each(PLATFORMS)('a certificate-bound token over TLS on %s', (platform: Platform) => {
  mtlsTests(harness(platform));
});
