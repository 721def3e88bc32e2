// RFC 8705 certificate-bound tokens through the Express adapter on a real TLS server: the
// adapter hands core the connection, whose client certificate the token must be bound to.
import { createServer } from 'node:https';
import express, { type ErrorRequestHandler } from 'express';
import { isJwtGuardError, type GuardOptions } from '@jwt-guard/core';
import { jwtGuard } from '@jwt-guard/express';
import {
  createLocalhostCertificates,
  createTestCertificate,
  createTestClock,
  createTokenFactory,
  listenOnLoopback,
  sendRequest,
  testKeys,
  type LoopbackServer,
  type TestCertificate,
} from '@jwt-guard/testkit';

const issuer = 'https://idp.example/';
const audience = 'https://api.example/';
const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer, audience, clock });
const options: GuardOptions = { issuer, audience, clock, keys: keys.ES256.jwk };

const renderAuthErrors: ErrorRequestHandler = (err, _req, res, next) => {
  if (!isJwtGuardError(err)) {
    next(err);
    return;
  }
  res.status(err.status).set(err.headers).json(err);
};

let ca: TestCertificate;
let client: TestCertificate;
let other: TestCertificate;
let server: LoopbackServer;

beforeAll(async () => {
  const localhost = await createLocalhostCertificates();
  ca = localhost.ca;
  [client, other] = await Promise.all([
    createTestCertificate({ commonName: 'client' }),
    createTestCertificate({ commonName: 'another client' }),
  ]);
  const app = express();
  app.use(jwtGuard(options));
  app.get('/me', (req, res) => {
    res.json({ sub: req.auth.subject });
  });
  app.use(renderAuthErrors);
  // The TLS layer asks for a certificate and accepts any: the guard decides, by the token.
  server = await listenOnLoopback(
    createServer(
      {
        key: localhost.server.keyPem,
        cert: localhost.server.certPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      app,
    ),
  );
});
afterAll(() => server.close());

const boundTo = (certificate: TestCertificate): string[] => [
  'Authorization',
  `Bearer ${mint.sign(keys.ES256, { cnf: { 'x5t#S256': certificate.thumbprintS256 } })}`,
];

const mismatch = {
  status: 401,
  body: {
    error: 'invalid_token',
    code: 'ERR_CERTIFICATE_BINDING_MISMATCH',
    message: 'The access token is bound to another client certificate',
  },
  challenge:
    'Bearer error="invalid_token", error_description="The access token is bound to another client certificate"',
};

async function call(certificate: TestCertificate | undefined, headers: string[]) {
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

describe('a certificate-bound token over TLS', () => {
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
    const token = ['Authorization', `Bearer ${mint.sign(keys.ES256)}`];
    expect((await call(other, token)).status).toBe(200);
  });
});
