import { randomBytes } from 'node:crypto';
import { createServer } from 'node:https';
import {
  createGuard,
  defineRequirement,
  isJwtGuardError,
  type AuthContext,
  type Guard,
  type GuardEvent,
  type GuardRequest,
} from '@jwt-guard/core';
import {
  createDpopKey,
  createDpopProof,
  createEventRecorder,
  createLocalhostCertificates,
  createTestCertificate,
  listenOnLoopback,
  refusalOf,
  refusalOfSync,
  sendRequest,
  startAuthorizationServer,
  type AuthorizationServer,
  type DpopKey,
  type DpopProofInput,
  type EventRecorder,
  type LoopbackServer,
  type Refusal,
  type TestCertificate,
} from '@jwt-guard/testkit';

// Core against tokens a real authorization server issued: oidc-provider (in process, on
// 127.0.0.1) with client credentials and resource indicators, so it issues RFC 9068 JWT
// access tokens; DPoP-bound (cnf.jkt), certificate-bound (cnf["x5t#S256"]) and plain ones.
// The DPoP-bound ones come through oidc-provider's own token-endpoint nonce flow. The guard
// finds the keys by OIDC discovery and uses the system clock, like production.

const AUDIENCE = 'https://api.example/';
const ORIGIN = 'https://api.example';
const HTU = `${ORIGIN}/orders`;
const ALGS = 'algs="ES256 EdDSA PS256"';
const MFA = 'urn:example:mfa';
const NONCE = /^[A-Za-z0-9_-]{32}$/;

let server: AuthorizationServer;
let certificate: TestCertificate;
let stranger: TestCertificate;
let dpopKey: DpopKey;
let otherKey: DpopKey;
let guard: Guard;
let events: EventRecorder<GuardEvent>;
let localhost: { ca: TestCertificate; server: TestCertificate };

beforeAll(async () => {
  [localhost, certificate, stranger, dpopKey, otherKey] = await Promise.all([
    createLocalhostCertificates(),
    createTestCertificate({ commonName: 'mtls-client' }),
    createTestCertificate({ commonName: 'someone-else' }),
    createDpopKey('ES256'),
    createDpopKey('EdDSA'),
  ]);
  server = await startAuthorizationServer({
    audience: AUDIENCE,
    dpopNonces: true,
    clients: [
      { clientId: 'svc', clientSecret: 'svc-secret', scope: 'read:orders' },
      {
        clientId: 'weak',
        clientSecret: 'weak-secret',
        scope: 'read:orders',
        extraClaims: { acr: 'urn:example:pwd', auth_time: Math.floor(Date.now() / 1000) - 3600 },
      },
      {
        clientId: 'strong',
        clientSecret: 'strong-secret',
        scope: 'read:orders',
        extraClaims: { acr: MFA, auth_time: Math.floor(Date.now() / 1000) - 60 },
      },
      { clientId: 'mtls', scope: 'read:orders', certificate },
    ],
  });
  events = createEventRecorder<GuardEvent>();
  guard = createGuard({
    issuer: server.issuer,
    audience: AUDIENCE,
    strict: true,
    dpop: { mode: 'allowed', origin: ORIGIN, algorithms: ['ES256', 'EdDSA', 'PS256'] },
    onEvent: events.listener,
  });
  await guard.hydrate();
});

afterAll(() => server.close());

function dpopRequest(token: string, proof: string | undefined, scheme = 'DPoP'): GuardRequest {
  return {
    method: 'GET',
    url: '/orders?page=1',
    headers: [
      'Authorization',
      `${scheme} ${token}`,
      ...(proof === undefined ? [] : ['DPoP', proof]),
    ],
  };
}

function proofFor(key: DpopKey, token: string, input: Partial<DpopProofInput> = {}): string {
  return createDpopProof(key, { htm: 'GET', htu: HTU, accessToken: token, ...input });
}

function outcome(error: Refusal) {
  return { code: error.code, status: error.status, challenge: error.headers['WWW-Authenticate'] };
}

const insufficientScope = (scheme: 'Bearer' | 'DPoP') => {
  const error =
    'error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin:orders"';
  return {
    code: 'ERR_SCOPE_INSUFFICIENT',
    status: 403,
    challenge:
      scheme === 'Bearer' ? `Bearer ${error}, DPoP ${ALGS}` : `DPoP ${error}, ${ALGS}, Bearer`,
  };
};
const admin = defineRequirement({ scopes: ['admin:orders'] });

const invalidProof = {
  code: 'ERR_DPOP_PROOF_INVALID',
  status: 401,
  challenge: `DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid", ${ALGS}, Bearer`,
};

describe('tokens from oidc-provider', () => {
  it('accepts a plain bearer token', async () => {
    const { accessToken, tokenType } = await server.requestToken({
      clientId: 'svc',
      scope: 'read:orders',
    });
    expect(tokenType).toBe('Bearer');
    const auth = await guard.authenticate(dpopRequest(accessToken, undefined, 'Bearer'));
    expect(auth).toMatchObject({ issuer: server.issuer, subject: 'svc', scopes: ['read:orders'] });
    // Found from the issuer URL alone: discovery, then oidc-provider's JWKS (ES256 and RS256).
    expect(events.ofType('keys.refreshed')).toEqual([
      { type: 'keys.refreshed', source: server.issuer, keyCount: 2 },
    ]);
    expect(events.ofType('token.accepted').at(-1)).toMatchObject({ kid: 'as-es256', alg: 'ES256' });
    expect(outcome(refusalOfSync(() => guard.authorize(auth, admin)))).toEqual(
      insufficientScope('Bearer'),
    );
  });

  describe('a DPoP-bound token', () => {
    let token: string;

    beforeAll(async () => {
      const issued = await server.requestToken({ clientId: 'svc', scope: 'read:orders', dpopKey });
      expect(issued.tokenType).toBe('DPoP');
      // oidc-provider demanded its own nonce first (use_dpop_nonce), and the retry got the token.
      expect(issued.dpopNonce).toEqual(expect.stringMatching(/./));
      token = issued.accessToken;
    });

    it('is accepted with a valid proof from its key', async () => {
      const auth = await guard.authenticate(dpopRequest(token, proofFor(dpopKey, token)));
      expect(auth.claims.cnf).toEqual({ jkt: dpopKey.thumbprint });
      // Without server nonces configured, an accepted request gets no DPoP-Nonce.
      expect(guard.responseHeaders(auth)).toEqual({});
    });

    it('is refused on a route needing a scope it lacks', async () => {
      const auth = await guard.authenticate(dpopRequest(token, proofFor(dpopKey, token)));
      expect(outcome(refusalOfSync(() => guard.authorize(auth, admin)))).toEqual(
        insufficientScope('DPoP'),
      );
    });

    it('is refused without a proof, and as a bearer token', async () => {
      expect(outcome(await refusalOf(guard.authenticate(dpopRequest(token, undefined))))).toEqual({
        code: 'ERR_DPOP_PROOF_MISSING',
        status: 401,
        challenge: `DPoP error="invalid_dpop_proof", error_description="A DPoP proof is required with a DPoP access token", ${ALGS}, Bearer`,
      });
      const asBearer = await refusalOf(
        guard.authenticate(dpopRequest(token, proofFor(dpopKey, token), 'Bearer')),
      );
      expect(outcome(asBearer)).toEqual({
        code: 'ERR_DPOP_BINDING_MISMATCH',
        status: 401,
        challenge: `Bearer error="invalid_token", error_description="The access token is not bound to the key of the DPoP proof", DPoP ${ALGS}`,
      });
    });

    it('is refused with a replayed proof', async () => {
      const proof = proofFor(dpopKey, token);
      await guard.authenticate(dpopRequest(token, proof));
      expect(outcome(await refusalOf(guard.authenticate(dpopRequest(token, proof))))).toEqual({
        code: 'ERR_DPOP_PROOF_REPLAYED',
        status: 401,
        challenge: `DPoP error="invalid_dpop_proof", error_description="The DPoP proof was already used", ${ALGS}, Bearer`,
      });
    });

    it.each<[string, Partial<DpopProofInput>]>([
      ['a wrong htu', { htu: `${ORIGIN}/admin` }],
      ['a wrong htm', { htm: 'POST' }],
      ['no ath', { omit: ['ath'] }],
    ])('is refused with %s', async (_, input) => {
      const error = await refusalOf(
        guard.authenticate(dpopRequest(token, proofFor(dpopKey, token, input))),
      );
      expect(outcome(error)).toEqual(invalidProof);
    });

    it('is refused with a proof from another key', async () => {
      const error = await refusalOf(
        guard.authenticate(dpopRequest(token, proofFor(otherKey, token))),
      );
      expect(outcome(error)).toEqual({
        code: 'ERR_DPOP_BINDING_MISMATCH',
        status: 401,
        challenge: `DPoP error="invalid_token", error_description="The access token is not bound to the key of the DPoP proof", ${ALGS}, Bearer`,
      });
    });
  });

  describe('a certificate-bound token, over a real TLS connection', () => {
    let token: string;
    let api: LoopbackServer;

    beforeAll(async () => {
      const issued = await server.requestToken({ clientId: 'mtls', scope: 'read:orders' });
      expect(issued.claims.cnf).toEqual({ 'x5t#S256': certificate.thumbprintS256 });
      token = issued.accessToken;
      // What an adapter does: hand core the request with its TLS socket, render the answer.
      // The TLS layer asks for a client certificate and accepts any: the guard decides.
      const tls = { key: localhost.server.keyPem, cert: localhost.server.certPem };
      api = await listenOnLoopback(
        createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
          const request = {
            method: req.method ?? 'GET',
            url: req.url ?? '/',
            headers: req.rawHeaders,
            socket: req.socket,
          };
          guard.authenticate(request).then(
            (auth) => res.end(JSON.stringify({ sub: auth.subject })),
            (error: unknown) => {
              if (!isJwtGuardError(error)) res.writeHead(500).end();
              else res.writeHead(error.status, error.headers).end(JSON.stringify(error));
            },
          );
        }),
      );
    });

    afterAll(() => api?.close());

    async function call(presented: TestCertificate | undefined) {
      const response = await sendRequest(api.origin, {
        path: '/orders',
        headers: ['Authorization', `Bearer ${token}`],
        ca: localhost.ca.certPem,
        certificate: presented,
      });
      const body = JSON.parse(response.text) as { code?: string };
      return {
        status: response.status,
        challenge: response.headers['www-authenticate'],
        ...(response.status === 200 ? { body } : { code: body.code }),
      };
    }

    it('is accepted with the client certificate it is bound to', async () => {
      expect(await call(certificate)).toEqual({ status: 200, body: { sub: 'mtls' } });
    });

    it('is refused with another client certificate, and with none', async () => {
      const mismatch = {
        status: 401,
        code: 'ERR_CERTIFICATE_BINDING_MISMATCH',
        challenge: `Bearer error="invalid_token", error_description="The access token is bound to another client certificate", DPoP ${ALGS}`,
      };
      expect(await call(stranger)).toEqual(mismatch);
      expect(await call(undefined)).toEqual(mismatch);
    });
  });

  it('answers a step-up challenge on a route demanding a stronger, more recent authentication', async () => {
    const { accessToken } = await server.requestToken({ clientId: 'weak', scope: 'read:orders' });
    const auth: AuthContext = await guard.authenticate(
      dpopRequest(accessToken, undefined, 'Bearer'),
    );
    const error = refusalOfSync(() =>
      guard.authorize(auth, defineRequirement({ acr: 'urn:example:mfa', maxAuthAgeSeconds: 300 })),
    );
    expect(outcome(error)).toEqual({
      code: 'ERR_AUTHENTICATION_INSUFFICIENT',
      status: 401,
      challenge:
        'Bearer error="insufficient_user_authentication", error_description="A stronger or more recent user authentication is required", acr_values="urn:example:mfa", max_age="300", DPoP algs="ES256 EdDSA PS256"',
    });
    expect(() =>
      guard.authorize(auth, defineRequirement({ acr: 'urn:example:pwd' })),
    ).not.toThrow();
  });

  it('accepts the token of a strong, recent authentication on that route', async () => {
    const { accessToken } = await server.requestToken({ clientId: 'strong', scope: 'read:orders' });
    const auth = await guard.authenticate(dpopRequest(accessToken, undefined, 'Bearer'));
    expect(() =>
      guard.authorize(auth, defineRequirement({ acr: MFA, maxAuthAgeSeconds: 300 })),
    ).not.toThrow();
  });

  describe("the resource's own DPoP nonces", () => {
    let nonceGuard: Guard;

    beforeAll(() => {
      nonceGuard = createGuard({
        issuer: server.issuer,
        audience: AUDIENCE,
        strict: true,
        dpop: {
          mode: 'required',
          origin: ORIGIN,
          algorithms: ['ES256', 'EdDSA', 'PS256'],
          nonce: { secret: randomBytes(32) },
        },
      });
    });

    it('answers a proof without a nonce with use_dpop_nonce, then accepts the retry', async () => {
      const { accessToken: token } = await server.requestToken({
        clientId: 'svc',
        scope: 'read:orders',
        dpopKey,
      });
      const first = await refusalOf(
        nonceGuard.authenticate(dpopRequest(token, proofFor(dpopKey, token))),
      );
      expect(outcome(first)).toEqual({
        code: 'ERR_DPOP_NONCE_REQUIRED',
        status: 401,
        challenge: `DPoP error="use_dpop_nonce", error_description="The DPoP proof must carry the nonce the server provided", ${ALGS}`,
      });
      const nonce = first.headers['DPoP-Nonce'];
      expect(nonce).toMatch(NONCE);
      const auth = await nonceGuard.authenticate(
        dpopRequest(token, proofFor(dpopKey, token, { nonce })),
      );
      expect(auth.subject).toBe('svc');
      expect(nonceGuard.responseHeaders(auth)).toEqual({
        'DPoP-Nonce': expect.stringMatching(NONCE),
      });
    });

    it('refuses a plain bearer token', async () => {
      const { accessToken } = await server.requestToken({ clientId: 'svc', scope: 'read:orders' });
      const error = await refusalOf(
        nonceGuard.authenticate(dpopRequest(accessToken, undefined, 'Bearer')),
      );
      expect(outcome(error)).toEqual({
        code: 'ERR_DPOP_REQUIRED',
        status: 401,
        challenge: `DPoP error="invalid_token", error_description="This resource requires a DPoP-bound access token", ${ALGS}`,
      });
    });
  });
});
