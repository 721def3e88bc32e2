import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  createDpopKey,
  createDpopProof,
  createTestCertificate,
  startAuthorizationServer,
  type AuthorizationServer,
  type DpopAlgorithm,
  type TestCertificate,
} from '@jwt-guard/testkit';

const audience = 'https://api.example/';
const stepUp = { acr: 'urn:example:mfa', auth_time: 1_700_000_000 };

let server: AuthorizationServer;
let nonceServer: AuthorizationServer;
let certificate: TestCertificate;

beforeAll(async () => {
  certificate = await createTestCertificate({ commonName: 'mtls-client' });
  server = await startAuthorizationServer({
    audience,
    clients: [
      { clientId: 'svc', clientSecret: 'svc-secret', scope: 'read:items write:items' },
      { clientId: 'step-up', clientSecret: 'step-up-secret', scope: 'admin', extraClaims: stepUp },
      { clientId: 'mtls', scope: 'read:items', certificate },
    ],
  });
  nonceServer = await startAuthorizationServer({
    audience,
    signingAlgorithm: 'RS256',
    dpopNonces: true,
    clients: [{ clientId: 'svc', clientSecret: 'svc-secret', scope: 'read:items' }],
  });
});

afterAll(async () => {
  await Promise.all([server.close(), nonceServer.close()]);
});

async function verify(as: AuthorizationServer, token: string) {
  return jwtVerify(token, createRemoteJWKSet(new URL(as.jwksUri)), {
    issuer: as.issuer,
    audience,
    typ: 'at+jwt',
  });
}

describe('startAuthorizationServer', () => {
  it('issues an RFC 9068 bearer token for the resource', async () => {
    const token = await server.requestToken({ clientId: 'svc', scope: 'read:items' });
    const { payload, protectedHeader } = await verify(server, token.accessToken);

    expect(token.tokenType).toBe('Bearer');
    expect(token.expiresIn).toBe(600);
    expect(protectedHeader).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(payload).toMatchObject({
      aud: audience,
      scope: 'read:items',
      client_id: 'svc',
      sub: 'svc',
      jti: expect.any(String),
    });
    expect(payload.cnf).toBeUndefined();
    expect(token.claims).toEqual(payload);
  });

  it('signs with the configured algorithm', async () => {
    const token = await nonceServer.requestToken({ clientId: 'svc', scope: 'read:items' });
    const { protectedHeader } = await verify(nonceServer, token.accessToken);

    expect(protectedHeader.alg).toBe('RS256');
  });

  it("adds the client's extra claims", async () => {
    const token = await server.requestToken({ clientId: 'step-up', scope: 'admin' });
    const { payload } = await verify(server, token.accessToken);

    expect(payload).toMatchObject({ ...stepUp, scope: 'admin', client_id: 'step-up' });
  });

  it('binds a token to a DPoP key', async () => {
    const dpopKey = await createDpopKey();
    const token = await server.requestToken({ clientId: 'svc', scope: 'read:items', dpopKey });
    const { payload } = await verify(server, token.accessToken);

    expect(token.tokenType).toBe('DPoP');
    expect(payload.cnf).toEqual({ jkt: dpopKey.thumbprint });
  });

  it.each<DpopAlgorithm>(['ES384', 'EdDSA', 'RS256', 'PS256'])(
    'accepts a %s DPoP key',
    async (alg) => {
      const dpopKey = await createDpopKey(alg);
      const token = await server.requestToken({ clientId: 'svc', scope: 'read:items', dpopKey });

      expect(token.claims.cnf).toEqual({ jkt: dpopKey.thumbprint });
    },
  );

  it('binds a token to a DPoP key when the token endpoint demands a nonce', async () => {
    const dpopKey = await createDpopKey();
    const token = await nonceServer.requestToken({ clientId: 'svc', scope: 'read:items', dpopKey });
    const { payload } = await verify(nonceServer, token.accessToken);

    expect(token.tokenType).toBe('DPoP');
    expect(payload.cnf).toEqual({ jkt: dpopKey.thumbprint });
  });

  it('answers a DPoP proof without a nonce with use_dpop_nonce when nonces are on', async () => {
    const dpopKey = await createDpopKey();
    const response = await fetch(nonceServer.tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('svc:svc-secret').toString('base64')}`,
        dpop: createDpopProof(dpopKey, { htm: 'POST', htu: nonceServer.tokenEndpoint }),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: audience }),
    });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'use_dpop_nonce' });
    expect(response.headers.get('dpop-nonce')).toEqual(expect.any(String));
  });

  it('binds a token to the client certificate', async () => {
    const token = await server.requestToken({ clientId: 'mtls', scope: 'read:items' });
    const { payload } = await verify(server, token.accessToken);

    expect(token.tokenType).toBe('Bearer');
    expect(payload.cnf).toEqual({ 'x5t#S256': certificate.thumbprintS256 });
  });

  it('refuses a self-signed client authentication with another certificate', async () => {
    const other = await createTestCertificate({ commonName: 'intruder' });

    await expect(
      server.requestToken({ clientId: 'mtls', scope: 'read:items', certificate: other }),
    ).rejects.toThrow('401 invalid_client:');
  });

  it('refuses a resource it does not know', async () => {
    await expect(
      server.requestToken({ clientId: 'svc', scope: 'read:items', resource: 'https://other/' }),
    ).rejects.toThrow('400 invalid_target:');
  });
});
