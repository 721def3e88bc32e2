import { createServer as createHttpServer, type Server } from 'node:http';
import { Agent, createServer as createHttpsServer, globalAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createGuard } from '@jwt-guard/core';
import {
  createLocalhostCertificates,
  createTestClock,
  createTestKey,
  createTokenFactory,
  refusalOf,
  startKeyServer,
  testKeys,
  type KeyServer,
  type KeyServerOptions,
} from '@jwt-guard/testkit';

const audience = 'https://api.example/';
const keys = testKeys();
const clock = createTestClock();

const servers: KeyServer[] = [];
async function serve(options: KeyServerOptions = {}): Promise<KeyServer> {
  const server = await startKeyServer({ keys: [keys.ES256], ...options });
  servers.push(server);
  return server;
}
afterEach(() => Promise.all(servers.splice(0).map((server) => server.close())));

function mint(issuer: string, tokenAudience: string = audience) {
  return createTokenFactory({ issuer, audience: tokenAudience, clock });
}

describe('discovery', () => {
  // OIDC Discovery 1.0 §4 appends the well-known path to the issuer; RFC 8414 §3.1 inserts
  // it between host and path. A server may offer only one of them.
  it.each([
    { discovery: 'oidc', issuerPath: '' },
    { discovery: 'oidc', issuerPath: '/tenant-a' },
    { discovery: 'oauth', issuerPath: '' },
    { discovery: 'oauth', issuerPath: '/tenant-a' },
  ] as const)(
    'finds the keys through $discovery metadata (issuer path "$issuerPath")',
    async ({ discovery, issuerPath }) => {
      const server = await serve({ discovery, issuerPath });
      const guard = createGuard({ issuer: server.issuer, audience, clock });

      await expect(guard.verify(mint(server.issuer).sign(keys.ES256))).resolves.toMatchObject({
        issuer: server.issuer,
      });
      expect(server.hits.metadata).toBe(1);
      expect(server.hits.jwks).toBe(1);
    },
  );

  // OIDC Discovery §4.3, RFC 8414 §3.3: a document naming another issuer may be an
  // attacker's; its keys are not used.
  it('answers 503 when the document names another issuer', async () => {
    const server = await serve({ metadata: { issuer: 'https://other-idp.example/' } });
    const guard = createGuard({ issuer: server.issuer, audience, clock });

    const error = await refusalOf(guard.verify(mint(server.issuer).sign(keys.ES256)));
    expect(error).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', status: 503 });
    expect(error.headers['WWW-Authenticate']).toBeUndefined();
    expect(server.hits.metadata).toBe(1);
    expect(server.hits.jwks).toBe(0);
  });

  // Keys fetched over plain HTTP can be replaced by anyone on the path.
  it('answers 503 when the jwks_uri is plain http on a non-loopback host', async () => {
    const server = await serve({ metadata: { jwks_uri: 'http://idp.example/jwks.json' } });
    const guard = createGuard({ issuer: server.issuer, audience, clock });

    const error = await refusalOf(guard.verify(mint(server.issuer).sign(keys.ES256)));
    expect(error).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', status: 503 });
    expect(server.hits.jwks).toBe(0);
  });

  // The loopback exemption is for an issuer that is itself local. A remote (https) issuer's
  // document naming http://127.0.0.1/… would make every API instance GET its own internal
  // services (SSRF), so such a jwks_uri is refused without a request.
  describe('an https issuer on loopback naming a jwks_uri', () => {
    let https: Server;
    let internal: Server;
    let internalHits = 0;
    let jwksUri = '';
    let issuer = '';
    let trusted: PropertyDescriptor | undefined;

    beforeAll(async () => {
      const { ca, server } = await createLocalhostCertificates();
      // Trusted through the global agent, not a jwks.agent option, so an http URL would be
      // fetched for real if the rule did not stop it.
      trusted = Object.getOwnPropertyDescriptor(globalAgent.options, 'ca');
      globalAgent.options.ca = ca.certPem;
      internal = createHttpServer((_req, res) => {
        internalHits++;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ keys: [keys.ES256.jwk] }));
      });
      https = createHttpsServer({ cert: server.certPem, key: server.keyPem }, (req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.end(
          req.url === '/jwks'
            ? JSON.stringify({ keys: [keys.ES256.jwk] })
            : JSON.stringify({ issuer, jwks_uri: jwksUri }),
        );
      });
      await Promise.all(
        [https, internal].map(
          (s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve)),
        ),
      );
      issuer = `https://localhost:${(https.address() as AddressInfo).port}/`;
    });
    afterAll(async () => {
      // Node merges an agent's options over each request's, so even `ca: undefined` left
      // behind would erase the `ca` of every later request through the global agent.
      if (trusted === undefined) delete globalAgent.options.ca;
      else Object.defineProperty(globalAgent.options, 'ca', trusted);
      await Promise.all([https, internal].map((s) => new Promise((resolve) => s.close(resolve))));
    });

    it('plain http on loopback → 503, and the internal service is never asked', async () => {
      jwksUri = `http://127.0.0.1:${(internal.address() as AddressInfo).port}/admin?x=1`;
      internalHits = 0;
      const guard = createGuard({ issuer, audience, clock });

      const error = await refusalOf(guard.verify(mint(issuer).sign(keys.ES256)));
      expect(error).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', status: 503 });
      expect(internalHits).toBe(0);
    });

    it('https → accepted (the same setup, so the refusal above is the rule, not TLS)', async () => {
      jwksUri = `${issuer}jwks`;
      const guard = createGuard({ issuer, audience, clock });

      await expect(guard.verify(mint(issuer).sign(keys.ES256))).resolves.toMatchObject({
        issuer,
      });
    });
  });

  it('reaches a loopback http key server also when an https agent is configured', async () => {
    const server = await serve();
    const agent = new Agent();
    const guard = createGuard({ issuer: server.issuer, audience, clock, jwks: { agent } });

    await expect(guard.verify(mint(server.issuer).sign(keys.ES256))).resolves.toMatchObject({
      issuer: server.issuer,
    });
    agent.destroy();
  });

  it('recovers once the document is corrected', async () => {
    const server = await serve({ metadata: { issuer: 'https://other-idp.example/' } });
    const guard = createGuard({
      issuer: server.issuer,
      audience,
      clock,
      jwks: { cooldownSeconds: 0 },
    });
    const token = mint(server.issuer).sign(keys.ES256);
    await refusalOf(guard.verify(token));

    server.setMetadata({});
    await expect(guard.verify(token)).resolves.toMatchObject({ issuer: server.issuer });
  });

  // RFC 8725 §3.10 and the jku/x5u CVE class: a URL in the token is the attacker's choice,
  // so it must never be fetched, whatever the token claims.
  it.each(['jku', 'x5u'])('never fetches a %s URL named in a token', async (member) => {
    const server = await serve();
    const attacker = await serve({ keys: [createTestKey('ES256', { kid: keys.ES256.kid })] });
    const forged = createTestKey('ES256', { kid: keys.ES256.kid });
    const guard = createGuard({ issuer: server.issuer, audience, clock });

    const token = mint(server.issuer).sign(forged, {}, { header: { [member]: attacker.jwksUri } });
    const error = await refusalOf(guard.verify(token));
    expect(error).toMatchObject({ code: 'ERR_SIGNATURE_INVALID', status: 401 });
    expect(attacker.hits).toEqual({ jwks: 0, metadata: 0, redirected: 0 });
  });
});

describe('several issuers', () => {
  it('verifies each token with its own issuer keys, audience and algorithms', async () => {
    // The same kid at both issuers, so only the issuer decides which key is tried.
    const keyA = createTestKey('ES256', { kid: 'shared-kid' });
    const keyB = createTestKey('ES256', { kid: 'shared-kid' });
    const serverA = await serve({ keys: [keyA, keys.RS256] });
    const serverB = await serve({ keys: [keyB, keys.RS256] });
    const guard = createGuard({
      issuer: [
        serverA.issuer,
        { issuer: serverB.issuer, audience: 'other', algorithms: ['ES256'] },
      ],
      audience,
      clock,
    });
    const fromA = mint(serverA.issuer);
    const fromB = mint(serverB.issuer, 'other');

    await expect(guard.verify(fromA.sign(keyA))).resolves.toMatchObject({ issuer: serverA.issuer });
    await expect(guard.verify(fromA.sign(keys.RS256))).resolves.toMatchObject({
      issuer: serverA.issuer,
    });
    await expect(guard.verify(fromB.sign(keyB))).resolves.toMatchObject({ issuer: serverB.issuer });

    const refusals = await Promise.all(
      [
        // B's name, A's key: B's key with that kid does not verify it.
        fromB.sign(keyA),
        fromA.sign(keyB),
        // Each issuer's own audience only.
        mint(serverB.issuer).sign(keyB),
        mint(serverA.issuer, 'other').sign(keyA),
        // B allows ES256 only, though it publishes an RSA key too.
        fromB.sign(keys.RS256),
      ].map((token) => refusalOf(guard.verify(token))),
    );
    expect(refusals.map((error) => error.code)).toEqual([
      'ERR_SIGNATURE_INVALID',
      'ERR_SIGNATURE_INVALID',
      'ERR_AUDIENCE_INVALID',
      'ERR_AUDIENCE_INVALID',
      'ERR_ALGORITHM_NOT_ALLOWED',
    ]);
    expect(refusals.map((error) => error.status)).toEqual([401, 401, 401, 401, 401]);
  });
});
