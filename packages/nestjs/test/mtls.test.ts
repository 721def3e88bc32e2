// RFC 8705 certificate-bound tokens through the Nest adapter on a real TLS server, on Express
// (`req.socket`) and on Fastify (`req.raw.socket`): the guard reads the connection's client
// certificate, whichever platform serves HTTPS.
import type { Server } from 'node:http';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import type { AuthContext } from '@jwt-guard/core';
import { Auth, JwtGuardModule } from '@jwt-guard/nestjs';
import {
  createLocalhostCertificates,
  createTestCertificate,
  listenOnLoopback,
  sendRequest,
  type LoopbackServer,
  type TestCertificate,
} from '@jwt-guard/testkit';
import { createNestApp, PLATFORMS, staticFixture, type Platform } from './platforms.js';

const fixture = staticFixture();

@Controller('me')
class MeController {
  @Get()
  me(@Auth() auth: AuthContext) {
    return { sub: auth.subject };
  }
}

const mismatch = {
  status: 401,
  body: {
    statusCode: 401,
    error: 'invalid_token',
    code: 'ERR_CERTIFICATE_BINDING_MISMATCH',
    message: 'The access token is bound to another client certificate',
  },
  challenge:
    'Bearer error="invalid_token", error_description="The access token is bound to another client certificate"',
};

describe.each(PLATFORMS)('a certificate-bound token over TLS on %s', (platform: Platform) => {
  let ca: TestCertificate;
  let client: TestCertificate;
  let other: TestCertificate;
  let app: INestApplication<Server>;
  let server: LoopbackServer;

  beforeAll(async () => {
    const localhost = await createLocalhostCertificates();
    ca = localhost.ca;
    [client, other] = await Promise.all([
      createTestCertificate({ commonName: 'client' }),
      createTestCertificate({ commonName: 'another client' }),
    ]);
    // The TLS layer asks for a certificate and accepts any: the guard decides, by the token.
    const tls = {
      key: localhost.server.keyPem,
      cert: localhost.server.certPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    } as const;
    app = await createNestApp(
      platform,
      [JwtGuardModule.forRoot(fixture.options)],
      undefined,
      [MeController],
      tls,
    );
    server = await listenOnLoopback(app.getHttpServer());
  });
  afterAll(async () => {
    await server.close();
    await app.close();
  });

  const boundTo = (certificate: TestCertificate): string[] => [
    'Authorization',
    `Bearer ${fixture.token({ cnf: { 'x5t#S256': certificate.thumbprintS256 } })}`,
  ];

  async function call(certificate: TestCertificate | undefined, headers: string[]) {
    expect(server.origin).toMatch(/^https:/);
    const res = await sendRequest(server.origin, {
      path: '/me',
      headers,
      ca: ca.certPem,
      certificate,
    });
    return {
      status: res.status,
      body: JSON.parse(res.text) as unknown,
      challenge: res.headers['www-authenticate'],
    };
  }

  it('is accepted on a connection with its client certificate', async () => {
    expect(await call(client, boundTo(client))).toEqual({
      status: 200,
      body: { sub: 'user-1' },
      challenge: undefined,
    });
  });

  it('is refused on a connection with another client certificate', async () => {
    expect(await call(other, boundTo(client))).toEqual(mismatch);
  });

  it('is refused on a connection without a client certificate', async () => {
    expect(await call(undefined, boundTo(client))).toEqual(mismatch);
  });

  it('does not bind a token without cnf to the connection', async () => {
    const token = ['Authorization', `Bearer ${fixture.token()}`];
    expect((await call(other, token)).status).toBe(200);
  });
});
