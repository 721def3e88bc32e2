// RFC 8705 certificate-bound tokens through an adapter on a real TLS server: the adapter hands
// core the connection, whose client certificate the token must be bound to.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { listenApp, type TestApp } from './app.js';
import {
  createLocalhostCertificates,
  createTestCertificate,
  type TestCertificate,
} from './certificates.js';
import type { ConformanceTls } from './conformance.js';
import { sendRequest, type LoopbackServer } from './http.js';
import { createStaticFixture } from './static-fixture.js';

/**
 * The JSON members of a refusal's body that every adapter renders: the error's `toJSON()`.
 *
 * @example
 * ```ts
 * const members: RefusalMembers = {
 *   error: 'invalid_token',
 *   code: 'ERR_TOKEN_EXPIRED',
 *   message: 'The access token expired',
 * };
 * ```
 */
export interface RefusalMembers {
  readonly error: string;
  readonly code: string;
  readonly message: string;
}

/**
 * One adapter in the certificate-binding scenario.
 *
 * @example
 * ```ts
 * const harness: MtlsHarness = {
 *   createApp(options, tls) {
 *     const app = express();
 *     app.use(jwtGuard(options as unknown as GuardOptions));
 *     app.get('/me', (req, res) => res.json({ sub: req.auth.subject }));
 *     app.use(renderAuthErrors);
 *     return Promise.resolve({ server: https.createServer(tls, app) });
 *   },
 * };
 * ```
 */
export interface MtlsHarness {
  /**
   * An app guarded with these guard options, served over HTTPS with `tls` the way the framework
   * serves HTTPS; `GET /me` answers `{ sub: auth.subject }`, a refusal its status and headers
   * with a JSON body.
   */
  createApp(options: Record<string, unknown>, tls: ConformanceTls): Promise<TestApp>;
  /**
   * The body the app answers a refusal with; default the members as they are (the error's
   * `toJSON()`, as the READMEs' handlers send it). Nest's default filter adds `statusCode`.
   */
  readonly refusalBody?: (status: number, members: RefusalMembers) => unknown;
}

/**
 * Declares the certificate-binding tests in the current describe block: an HTTPS app built
 * in its `beforeAll` and closed in its `afterAll`, and four requests with and without the
 * client certificate a token is bound to.
 *
 * @example
 * ```ts
 * describe('a certificate-bound token over TLS', () => mtlsTests(harness));
 * ```
 */
export function mtlsTests(harness: MtlsHarness): void {
  const fixture = createStaticFixture();
  const refusalBody = harness.refusalBody ?? ((_status, members) => members);
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
    // The TLS layer asks for a certificate and accepts any: the guard decides, by the token.
    const tls = {
      key: localhost.server.keyPem,
      cert: localhost.server.certPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    } as const;
    server = await listenApp(await harness.createApp(fixture.options, tls));
  });
  afterAll(() => server.close());

  const boundTo = (certificate: TestCertificate): string[] => [
    'Authorization',
    `Bearer ${fixture.token({ cnf: { 'x5t#S256': certificate.thumbprintS256 } })}`,
  ];

  const mismatch = {
    status: 401,
    body: refusalBody(401, {
      error: 'invalid_token',
      code: 'ERR_CERTIFICATE_BINDING_MISMATCH',
      message: 'The access token is bound to another client certificate',
    }),
    challenge:
      'Bearer error="invalid_token", error_description="The access token is bound to another client certificate"',
  };

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
}
