// The Nest adapter's part in DPoP (RFC 9449) and step-up (RFC 9470): @RequireDpop(),
// @RequireAcr() and @RequireAuthAge() on handlers and controllers (both apply, merged), the
// refusals through Nest's default exception filter with every header of the refusal, and the
// DPoP-Nonce of accepted requests, on Express and on Fastify.
import type { Server } from 'node:http';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { ConfigurationError, type AuthContext, type DpopOptions } from '@jwt-guard/core';
import { Auth, JwtGuardModule, RequireAcr, RequireAuthAge, RequireDpop } from '@jwt-guard/nestjs';
import {
  createDpopKey,
  createDpopProof,
  listenOnLoopback,
  sendRequest,
  type DpopKey,
  type LoopbackServer,
  type TestResponse,
} from '@jwt-guard/testkit';
import { createNestApp, PLATFORMS, staticFixture, type Platform } from './platforms.js';

const fixture = staticFixture();
const now = fixture.clock.nowSeconds();
const publicOrigin = 'https://api.example';
const dpop: DpopOptions = { origin: publicOrigin, algorithms: ['ES256'] };
const nonces: DpopOptions = { ...dpop, nonce: { secret: 'nest-test-nonce-secret-of-32-bytes!!' } };
const stepUpText = 'A stronger or more recent user authentication is required';
const stepUp = (attributes: string) =>
  `Bearer error="insufficient_user_authentication", error_description="${stepUpText}", ${attributes}`;

@Controller()
class BankController {
  @Get('me')
  me(@Auth() auth: AuthContext) {
    return { sub: auth.subject };
  }

  @Get('transfers')
  @RequireDpop()
  transfers() {
    return { transfers: [] };
  }

  @Get('payouts')
  @RequireAcr('urn:example:mfa', 'urn:example:hwk')
  payouts() {
    return { payouts: [] };
  }

  @Get('password')
  @RequireAuthAge(300)
  password() {
    return { password: 'form' };
  }

  // On one handler, one requirement: the challenge names everything a new login must meet.
  @Get('both')
  @RequireAcr('urn:example:mfa')
  @RequireAuthAge(300)
  both() {
    return { both: true };
  }
}

@Controller('vault')
@RequireAcr('urn:example:mfa', 'urn:example:hwk')
@RequireAuthAge(600)
class VaultController {
  @Get()
  list() {
    return { vault: [] };
  }

  // Both levels apply: the acr values both accept, and the smaller age.
  @Get('keys')
  @RequireAcr('urn:example:hwk')
  @RequireAuthAge(60)
  keys() {
    return { keys: [] };
  }
}

@Controller('secure')
@RequireDpop()
class SecureController {
  @Get()
  secure() {
    return { secure: true };
  }
}

const controllers = [BankController, VaultController, SecureController];

describe.each(PLATFORMS)('DPoP and step-up on %s', (platform: Platform) => {
  let key: DpopKey;
  let app: INestApplication<Server> | undefined;
  let server: LoopbackServer | undefined;
  beforeAll(async () => {
    key = await createDpopKey();
  });
  afterEach(async () => {
    await server?.close();
    await app?.close();
  });

  async function serve(dpopOptions?: DpopOptions): Promise<string> {
    const options = {
      ...fixture.options,
      ...(dpopOptions === undefined ? {} : { dpop: dpopOptions }),
    };
    app = await createNestApp(platform, [JwtGuardModule.forRoot(options)], undefined, controllers);
    server = await listenOnLoopback(app.getHttpServer());
    return server.origin;
  }

  const bearer = (claims: Record<string, unknown> = {}) => [
    'Authorization',
    `Bearer ${fixture.token(claims)}`,
  ];

  function dpopHeaders(path: string, nonce?: string): string[] {
    const token = fixture.token({ cnf: { jkt: key.thumbprint } });
    const proof = createDpopProof(key, {
      htm: 'GET',
      htu: `${publicOrigin}${path}`,
      accessToken: token,
      iatSeconds: now,
      nonce,
    });
    return ['Authorization', `DPoP ${token}`, 'DPoP', proof];
  }

  const get = (origin: string, path: string, headers: string[]) =>
    sendRequest(origin, { path, headers });

  function refusal(res: TestResponse): unknown {
    return {
      status: res.status,
      body: JSON.parse(res.text) as unknown,
      challenge: res.headers['www-authenticate'],
    };
  }

  it('@RequireDpop() lets a DPoP-bound token with its proof through', async () => {
    const origin = await serve(dpop);
    const res = await get(origin, '/transfers', dpopHeaders('/transfers'));
    expect([res.status, JSON.parse(res.text)]).toEqual([200, { transfers: [] }]);
  });

  it('@RequireDpop() refuses a bearer token with ERR_DPOP_REQUIRED, on a handler or a class', async () => {
    const origin = await serve(dpop);
    const expected = {
      status: 401,
      body: {
        statusCode: 401,
        error: 'invalid_token',
        code: 'ERR_DPOP_REQUIRED',
        message: 'This resource requires a DPoP-bound access token',
      },
      challenge:
        'DPoP error="invalid_token", error_description="This resource requires a DPoP-bound access token", algs="ES256"',
    };
    expect(refusal(await get(origin, '/transfers', bearer()))).toEqual(expected);
    expect(refusal(await get(origin, '/secure', bearer()))).toEqual(expected);
    expect((await get(origin, '/secure', dpopHeaders('/secure'))).status).toBe(200);
  });

  it('@RequireAcr() answers a weaker acr with insufficient_user_authentication', async () => {
    const origin = await serve();
    expect(refusal(await get(origin, '/payouts', bearer({ acr: 'urn:example:pwd' })))).toEqual({
      status: 401,
      body: {
        statusCode: 401,
        error: 'insufficient_user_authentication',
        code: 'ERR_AUTHENTICATION_INSUFFICIENT',
        message: stepUpText,
      },
      challenge: stepUp('acr_values="urn:example:mfa urn:example:hwk"'),
    });
    expect((await get(origin, '/payouts', bearer({ acr: 'urn:example:mfa' }))).status).toBe(200);
  });

  it('@RequireAuthAge() answers an old authentication with max_age', async () => {
    const origin = await serve();
    const old = await get(origin, '/password', bearer({ auth_time: now - 3600 }));
    expect([old.status, old.headers['www-authenticate']]).toEqual([401, stepUp('max_age="300"')]);
    expect((await get(origin, '/password', bearer({ auth_time: now - 60 }))).status).toBe(200);
  });

  it('stacked on a handler, names both attributes whichever failed', async () => {
    const origin = await serve();
    const weak = await get(origin, '/both', bearer({ acr: 'urn:example:pwd', auth_time: now }));
    expect(weak.headers['www-authenticate']).toBe(
      stepUp('acr_values="urn:example:mfa", max_age="300"'),
    );
    const fine = await get(origin, '/both', bearer({ acr: 'urn:example:mfa', auth_time: now }));
    expect(fine.status).toBe(200);
  });

  it('on a controller and a handler, both apply', async () => {
    const origin = await serve();
    const claims = (acr: string, ageSeconds: number) =>
      bearer({ acr, auth_time: now - ageSeconds });
    expect((await get(origin, '/vault', claims('urn:example:mfa', 300))).status).toBe(200);
    expect((await get(origin, '/vault', claims('urn:example:mfa', 3600))).status).toBe(401);
    const mfa = await get(origin, '/vault/keys', claims('urn:example:mfa', 10));
    expect([mfa.status, mfa.headers['www-authenticate']]).toEqual([
      401,
      stepUp('acr_values="urn:example:hwk", max_age="60"'),
    ]);
    expect((await get(origin, '/vault/keys', claims('urn:example:hwk', 300))).status).toBe(401);
    expect((await get(origin, '/vault/keys', claims('urn:example:hwk', 10))).status).toBe(200);
  });

  it('sends DPoP-Nonce with the use_dpop_nonce refusal, and a fresh one when accepted', async () => {
    const origin = await serve(nonces);
    const first = await get(origin, '/me', dpopHeaders('/me'));
    expect(refusal(first)).toEqual({
      status: 401,
      body: {
        statusCode: 401,
        error: 'use_dpop_nonce',
        code: 'ERR_DPOP_NONCE_REQUIRED',
        message: 'The DPoP proof must carry the nonce the server provided',
      },
      challenge:
        'DPoP error="use_dpop_nonce", error_description="The DPoP proof must carry the nonce the server provided", algs="ES256", Bearer',
    });
    const nonce = first.headers['dpop-nonce'] as string;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/);
    const retry = await get(origin, '/me', dpopHeaders('/me', nonce));
    expect([retry.status, JSON.parse(retry.text), retry.headers['dpop-nonce']]).toEqual([
      200,
      { sub: 'user-1' },
      nonce,
    ]);
  });

  it('sends no DPoP-Nonce with a bearer token', async () => {
    const origin = await serve(nonces);
    const res = await get(origin, '/me', bearer());
    expect([res.status, res.headers['dpop-nonce']]).toEqual([200, undefined]);
  });
});

describe('the step-up decorators', () => {
  it.each<[string, () => unknown]>([
    ['@RequireAcr()', () => RequireAcr()],
    ['@RequireAcr with a space', () => RequireAcr('urn:example:mfa urn:example:hwk')],
    ['@RequireAuthAge(-1)', () => RequireAuthAge(-1)],
    ['@RequireAuthAge(1.5)', () => RequireAuthAge(1.5)],
  ])('%s throws a ConfigurationError when the class is defined', (_name, decorate) => {
    expect(decorate).toThrow(ConfigurationError);
  });
});
