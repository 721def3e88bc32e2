// An adapter against tokens a real authorization server issued: oidc-provider, in process on
// 127.0.0.1, with client credentials and resource indicators (RFC 8707) so that it issues
// RFC 9068 JWT access tokens, DPoP-bound (RFC 9449, through its token endpoint's nonce flow),
// certificate-bound (RFC 8705, self-signed TLS client authentication) and plain ones, some with
// acr / auth_time. The API serves real HTTPS: the guard reads the client certificate from the
// connection, and finds oidc-provider's keys by discovery from its issuer URL alone.
//
// Unlike the conformance matrix (data and node:assert), this scenario declares Jest tests: its
// setups assert what oidc-provider issued, and its answers are matched with Jest's `toEqual`.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { listenApp, type TestApp } from './app.js';
import { startAuthorizationServer, type AuthorizationServer } from './authorization-server.js';
import {
  createLocalhostCertificates,
  createTestCertificate,
  type TestCertificate,
} from './certificates.js';
import type { ConformanceTls } from './conformance.js';
import { createDpopKey, createDpopProof, type DpopKey, type DpopProofInput } from './dpop.js';
import { sendRequest, type LoopbackServer } from './http.js';

const AUDIENCE = 'https://api.example/';
// The API's public origin, which clients put in `htu`; the tests reach it on loopback.
const ORIGIN = 'https://api.example';
const MFA = 'urn:example:mfa';
const ALGS = 'algs="ES256 EdDSA"';
const NONCE = /^[A-Za-z0-9_-]{32}$/;

const refused = {
  proofMissing: {
    status: 401,
    code: 'ERR_DPOP_PROOF_MISSING',
    challenge: `DPoP error="invalid_dpop_proof", error_description="A DPoP proof is required with a DPoP access token", ${ALGS}, Bearer`,
  },
  proofInvalid: {
    status: 401,
    code: 'ERR_DPOP_PROOF_INVALID',
    challenge: `DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid", ${ALGS}, Bearer`,
  },
  proofReplayed: {
    status: 401,
    code: 'ERR_DPOP_PROOF_REPLAYED',
    challenge: `DPoP error="invalid_dpop_proof", error_description="The DPoP proof was already used", ${ALGS}, Bearer`,
  },
  otherKey: {
    status: 401,
    code: 'ERR_DPOP_BINDING_MISMATCH',
    challenge: `DPoP error="invalid_token", error_description="The access token is not bound to the key of the DPoP proof", ${ALGS}, Bearer`,
  },
  asBearer: {
    status: 401,
    code: 'ERR_DPOP_BINDING_MISMATCH',
    challenge: `Bearer error="invalid_token", error_description="The access token is not bound to the key of the DPoP proof", DPoP ${ALGS}`,
  },
  dpopRequired: {
    status: 401,
    code: 'ERR_DPOP_REQUIRED',
    challenge: `DPoP error="invalid_token", error_description="This resource requires a DPoP-bound access token", ${ALGS}`,
  },
  certificate: {
    status: 401,
    code: 'ERR_CERTIFICATE_BINDING_MISMATCH',
    challenge: `Bearer error="invalid_token", error_description="The access token is bound to another client certificate", DPoP ${ALGS}`,
  },
  stepUp: (attributes: string) => ({
    status: 401,
    code: 'ERR_AUTHENTICATION_INSUFFICIENT',
    challenge: `Bearer error="insufficient_user_authentication", error_description="A stronger or more recent user authentication is required", ${attributes}, DPoP ${ALGS}`,
  }),
  scope: (scheme: 'Bearer' | 'DPoP') => {
    const error =
      'error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin:orders"';
    return {
      status: 403,
      code: 'ERR_SCOPE_INSUFFICIENT',
      challenge:
        scheme === 'Bearer' ? `Bearer ${error}, DPoP ${ALGS}` : `DPoP ${error}, ${ALGS}, Bearer`,
    };
  },
};

/**
 * One adapter in the interop scenario.
 *
 * @example
 * ```ts
 * const harness: InteropHarness = {
 *   createApp(options, tls) {
 *     const app = express();
 *     app.use(jwtGuard(options as unknown as GuardOptions));
 *     app.get('/orders', requireScope('read:orders'), answer);
 *     // … /admin, /transfers, /payouts, /account, and the error handler …
 *     return Promise.resolve({ server: https.createServer(tls, app) });
 *   },
 * };
 * ```
 */
export interface InteropHarness {
  /**
   * An app guarded with these guard options (issuer, audience, `strict: true`, `dpop`), served
   * over HTTPS with `tls` the way the framework serves HTTPS. Its GET routes answer
   * `{ sub: auth.subject, scopes: auth.scopes }`: `/orders` requires the scope `read:orders`,
   * `/admin` the scope `admin:orders`, `/transfers` DPoP, `/payouts` the acr
   * `urn:example:mfa`, `/account` an authentication at most 300 s old. A refusal answers its
   * status and headers with a JSON body that carries its `code`.
   */
  createApp(options: Record<string, unknown>, tls: ConformanceTls): Promise<TestApp>;
}

/**
 * What the interop scenario shares between the adapters of a file: the authorization server
 * and its clients, the TLS certificates and the clients' DPoP keys. Made synchronously;
 * `start()` in `beforeAll`.
 *
 * @example
 * ```ts
 * const env: InteropEnv = createInteropEnv();
 * beforeAll(() => env.start());
 * afterAll(() => env.close());
 * ```
 */
export interface InteropEnv {
  /** oidc-provider, with the clients `svc`, `weak`, `strong` and `mtls`. Only after `start()`. */
  readonly server: AuthorizationServer;
  /** The API's side of TLS: asks for a client certificate, accepts any. Only after `start()`. */
  readonly tls: ConformanceTls;
  /** The CA of the API's certificate, for the client. Only after `start()`. */
  readonly ca: TestCertificate;
  /** The client certificate the `mtls` client's tokens are bound to. Only after `start()`. */
  readonly certificate: TestCertificate;
  /** Another client certificate. Only after `start()`. */
  readonly stranger: TestCertificate;
  /** The `svc` client's DPoP key (ES256). Only after `start()`. */
  readonly dpopKey: DpopKey;
  /** A DPoP key no token is bound to (EdDSA). Only after `start()`. */
  readonly otherKey: DpopKey;
  start(): Promise<void>;
  close(): Promise<void>;
}

type Started = Omit<InteropEnv, 'start' | 'close'>;

/**
 * Creates the environment of the interop scenario.
 *
 * @example
 * ```ts
 * const env = createInteropEnv();
 * beforeAll(() => env.start());
 * afterAll(() => env.close());
 * interopTests(env, harness);
 * ```
 */
export function createInteropEnv(): InteropEnv {
  let started: Started | undefined;
  const get = (): Started => {
    if (started === undefined) throw new Error('interop env: call start() first (beforeAll)');
    return started;
  };
  return {
    get server() {
      return get().server;
    },
    get tls() {
      return get().tls;
    },
    get ca() {
      return get().ca;
    },
    get certificate() {
      return get().certificate;
    },
    get stranger() {
      return get().stranger;
    },
    get dpopKey() {
      return get().dpopKey;
    },
    get otherKey() {
      return get().otherKey;
    },
    async start() {
      const localhost = await createLocalhostCertificates();
      const [certificate, stranger, dpopKey, otherKey] = await Promise.all([
        createTestCertificate({ commonName: 'mtls-client' }),
        createTestCertificate({ commonName: 'someone-else' }),
        createDpopKey('ES256'),
        createDpopKey('EdDSA'),
      ]);
      const nowSeconds = Math.floor(Date.now() / 1000);
      const server = await startAuthorizationServer({
        audience: AUDIENCE,
        dpopNonces: true,
        clients: [
          { clientId: 'svc', clientSecret: 'svc-secret', scope: 'read:orders' },
          {
            clientId: 'weak',
            clientSecret: 'weak-secret',
            scope: 'read:orders',
            extraClaims: { acr: 'urn:example:pwd', auth_time: nowSeconds - 3600 },
          },
          {
            clientId: 'strong',
            clientSecret: 'strong-secret',
            scope: 'read:orders',
            extraClaims: { acr: MFA, auth_time: nowSeconds - 60 },
          },
          { clientId: 'mtls', scope: 'read:orders', certificate },
        ],
      });
      // The TLS layer asks for a client certificate and accepts any: the guard decides, by `cnf`.
      const tls = {
        key: localhost.server.keyPem,
        cert: localhost.server.certPem,
        ca: localhost.ca.certPem,
        requestCert: true,
        rejectUnauthorized: false,
      } as const;
      started = { server, tls, ca: localhost.ca, certificate, stranger, dpopKey, otherKey };
    },
    async close() {
      await started?.server.close();
    },
  };
}

interface Presentation {
  readonly path?: string;
  readonly scheme?: 'Bearer' | 'DPoP';
  readonly proof?: string;
  readonly certificate?: TestCertificate;
}

/**
 * Declares the interop tests in the current describe block (or file): the adapter's apps start
 * in its `beforeAll` and close in its `afterAll`, against the env's authorization server.
 *
 * @example
 * ```ts
 * const env = createInteropEnv();
 * beforeAll(() => env.start());
 * afterAll(() => env.close());
 * describe.each(PLATFORMS)('on %s', (platform) => interopTests(env, harness(platform)));
 * ```
 */
export function interopTests(env: InteropEnv, harness: InteropHarness): void {
  let api: LoopbackServer;
  let nonceApi: LoopbackServer;

  const serve = async (dpop: Record<string, unknown>) =>
    listenApp(
      await harness.createApp(
        { issuer: env.server.issuer, audience: AUDIENCE, strict: true, dpop },
        env.tls,
      ),
    );

  beforeAll(async () => {
    const dpop = { mode: 'allowed', origin: ORIGIN, algorithms: ['ES256', 'EdDSA'] };
    [api, nonceApi] = await Promise.all([
      serve(dpop),
      serve({ ...dpop, mode: 'required', nonce: { secret: randomBytes(32) } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([api?.close(), nonceApi?.close()]);
  });

  async function call(target: LoopbackServer, token: string, presentation: Presentation = {}) {
    const { path = '/orders', scheme = 'Bearer', proof } = presentation;
    const response = await sendRequest(target.origin, {
      path,
      headers: [
        'Authorization',
        `${scheme} ${token}`,
        ...(proof === undefined ? [] : ['DPoP', proof]),
      ],
      ca: env.ca.certPem,
      certificate: presentation.certificate,
    });
    const body = JSON.parse(response.text) as { code?: string };
    const nonce = response.headers['dpop-nonce'];
    return {
      status: response.status,
      challenge: response.headers['www-authenticate'],
      ...(nonce === undefined ? {} : { nonce }),
      ...(response.status === 200 ? { body } : { code: body.code }),
    };
  }

  function proof(key: DpopKey, token: string, input: Partial<DpopProofInput> = {}): string {
    return createDpopProof(key, {
      htm: 'GET',
      htu: `${ORIGIN}/orders`,
      accessToken: token,
      ...input,
    });
  }

  const ok = (sub: string) => ({ status: 200, body: { sub, scopes: ['read:orders'] } });

  it('accepts a plain bearer token, with the keys found by discovery', async () => {
    const { accessToken, tokenType } = await env.server.requestToken({
      clientId: 'svc',
      scope: 'read:orders',
    });
    expect(tokenType).toBe('Bearer');
    expect(await call(api, accessToken)).toEqual(ok('svc'));
    expect(await call(api, accessToken, { path: '/admin' })).toEqual(refused.scope('Bearer'));
    expect(await call(api, accessToken, { path: '/transfers' })).toEqual(refused.dpopRequired);
  });

  describe('a DPoP-bound token', () => {
    let token: string;

    beforeAll(async () => {
      const { dpopKey } = env;
      const issued = await env.server.requestToken({
        clientId: 'svc',
        scope: 'read:orders',
        dpopKey,
      });
      // oidc-provider demanded its own nonce first (use_dpop_nonce), and the retry got the token.
      expect(issued).toMatchObject({ tokenType: 'DPoP', dpopNonce: expect.stringMatching(/./) });
      expect(issued.claims.cnf).toEqual({ jkt: dpopKey.thumbprint });
      token = issued.accessToken;
    });

    it('is accepted with a valid proof, also on a route requiring DPoP', async () => {
      const { dpopKey } = env;
      expect(await call(api, token, { scheme: 'DPoP', proof: proof(dpopKey, token) })).toEqual(
        ok('svc'),
      );
      const transfers = proof(dpopKey, token, { htu: `${ORIGIN}/transfers` });
      expect(
        await call(api, token, { path: '/transfers', scheme: 'DPoP', proof: transfers }),
      ).toEqual(ok('svc'));
    });

    it('is refused without a proof, and as a bearer token', async () => {
      expect(await call(api, token, { scheme: 'DPoP' })).toEqual(refused.proofMissing);
      expect(await call(api, token)).toEqual(refused.asBearer);
    });

    it('is refused with a replayed proof', async () => {
      const once = proof(env.dpopKey, token);
      expect(await call(api, token, { scheme: 'DPoP', proof: once })).toEqual(ok('svc'));
      expect(await call(api, token, { scheme: 'DPoP', proof: once })).toEqual(
        refused.proofReplayed,
      );
    });

    it.each<[string, Partial<DpopProofInput>]>([
      ['a wrong htu', { htu: `${ORIGIN}/payouts` }],
      ['a wrong htm', { htm: 'POST' }],
      ['no ath', { omit: ['ath'] }],
    ])('is refused with a proof with %s', async (_, input) => {
      expect(
        await call(api, token, { scheme: 'DPoP', proof: proof(env.dpopKey, token, input) }),
      ).toEqual(refused.proofInvalid);
    });

    it('is refused with a proof signed by another key', async () => {
      expect(await call(api, token, { scheme: 'DPoP', proof: proof(env.otherKey, token) })).toEqual(
        refused.otherKey,
      );
    });

    it('is refused on a route needing a scope it lacks', async () => {
      const admin = proof(env.dpopKey, token, { htu: `${ORIGIN}/admin` });
      expect(await call(api, token, { path: '/admin', scheme: 'DPoP', proof: admin })).toEqual(
        refused.scope('DPoP'),
      );
    });

    it("completes the resource's nonce flow", async () => {
      const { dpopKey } = env;
      const first = await call(nonceApi, token, { scheme: 'DPoP', proof: proof(dpopKey, token) });
      expect(first).toEqual({
        status: 401,
        code: 'ERR_DPOP_NONCE_REQUIRED',
        challenge: `DPoP error="use_dpop_nonce", error_description="The DPoP proof must carry the nonce the server provided", ${ALGS}`,
        nonce: expect.stringMatching(NONCE),
      });
      const retry = proof(dpopKey, token, { nonce: first.nonce as string });
      expect(await call(nonceApi, token, { scheme: 'DPoP', proof: retry })).toEqual({
        ...ok('svc'),
        nonce: expect.stringMatching(NONCE),
      });
    });
  });

  it('refuses a plain bearer token where the guard requires DPoP', async () => {
    const { accessToken } = await env.server.requestToken({
      clientId: 'svc',
      scope: 'read:orders',
    });
    expect(await call(nonceApi, accessToken)).toEqual(refused.dpopRequired);
  });

  describe('a certificate-bound token', () => {
    let token: string;

    beforeAll(async () => {
      const issued = await env.server.requestToken({ clientId: 'mtls', scope: 'read:orders' });
      expect(issued.claims.cnf).toEqual({ 'x5t#S256': env.certificate.thumbprintS256 });
      token = issued.accessToken;
    });

    it('is accepted over TLS with the client certificate it is bound to', async () => {
      expect(await call(api, token, { certificate: env.certificate })).toEqual(ok('mtls'));
    });

    it('is refused with another client certificate, and with none', async () => {
      expect(await call(api, token, { certificate: env.stranger })).toEqual(refused.certificate);
      expect(await call(api, token)).toEqual(refused.certificate);
    });

    it('is refused on a route needing a scope it lacks', async () => {
      expect(await call(api, token, { path: '/admin', certificate: env.certificate })).toEqual(
        refused.scope('Bearer'),
      );
    });
  });

  describe('step-up', () => {
    it('challenges a token whose authentication is too weak or too old', async () => {
      const { accessToken } = await env.server.requestToken({
        clientId: 'weak',
        scope: 'read:orders',
      });
      expect(await call(api, accessToken, { path: '/payouts' })).toEqual(
        refused.stepUp(`acr_values="${MFA}"`),
      );
      expect(await call(api, accessToken, { path: '/account' })).toEqual(
        refused.stepUp('max_age="300"'),
      );
    });

    it('accepts the token of a strong, recent authentication', async () => {
      const { accessToken } = await env.server.requestToken({
        clientId: 'strong',
        scope: 'read:orders',
      });
      expect(await call(api, accessToken, { path: '/payouts' })).toEqual(ok('strong'));
      expect(await call(api, accessToken, { path: '/account' })).toEqual(ok('strong'));
    });
  });
}
