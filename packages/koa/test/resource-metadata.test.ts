// protectedResourceMetadata(): the RFC 9728 document served by the Koa adapter, to anyone, in
// front of a guard that protects everything else.
import { createServer } from 'node:http';
import Koa from 'koa';
import { ConfigurationError, type GuardOptions } from '@jwt-guard/core';
import { jwtGuard, protectedResourceMetadata } from '@jwt-guard/koa';
import {
  createTestClock,
  listenOnLoopback,
  sendRequest,
  testKeys,
  type LoopbackServer,
} from '@jwt-guard/testkit';

const issuer = 'https://idp.example/';
const audience = 'https://api.example/';
const keys = testKeys();
const options: GuardOptions = {
  issuer,
  audience,
  clock: createTestClock(),
  keys: keys.ES256.jwk,
  dpop: { origin: 'https://api.example', algorithms: ['ES256', 'EdDSA'] },
  resourceMetadata: {
    resource: 'https://api.example/',
    scopesSupported: ['read:items', 'write:items'],
    resourceName: 'Items API',
  },
};
const document = {
  resource: 'https://api.example/',
  authorization_servers: [issuer],
  bearer_methods_supported: ['header'],
  scopes_supported: ['read:items', 'write:items'],
  resource_name: 'Items API',
  tls_client_certificate_bound_access_tokens: true,
  dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
  dpop_bound_access_tokens_required: false,
};
const WELL_KNOWN = '/.well-known/oauth-protected-resource';

let server: LoopbackServer | undefined;
afterEach(() => server?.close());

async function serve(guardOptions: GuardOptions = options): Promise<string> {
  const app = new Koa();
  app.on('error', () => {});
  const auth = jwtGuard(guardOptions);
  app.use(protectedResourceMetadata(auth));
  app.use(auth);
  app.use((ctx) => {
    ctx.body = [];
  });
  const handle = app.callback();
  server = await listenOnLoopback(
    createServer((req, res) => {
      void handle(req, res);
    }),
  );
  return server.origin;
}

describe('protectedResourceMetadata()', () => {
  it('answers GET with the document and its headers, without a token', async () => {
    const res = await sendRequest(await serve(), { path: WELL_KNOWN });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual(document);
    expect(res.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(res.text)),
      'cache-control': 'public, max-age=3600',
    });
  });

  it('answers HEAD with the same headers and no body', async () => {
    const origin = await serve();
    const get = await sendRequest(origin, { path: WELL_KNOWN });
    const head = await sendRequest(origin, { method: 'HEAD', path: WELL_KNOWN });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': get.headers['content-length'],
      'cache-control': 'public, max-age=3600',
    });
  });

  it('answers with a query string too', async () => {
    const res = await sendRequest(await serve(), { path: `${WELL_KNOWN}?x=1` });
    expect(res.status).toBe(200);
  });

  it('leaves every other request to the guard, whose challenges name the document', async () => {
    const origin = await serve();
    const challenge =
      'Bearer resource_metadata="https://api.example/.well-known/oauth-protected-resource", DPoP algs="ES256 EdDSA", resource_metadata="https://api.example/.well-known/oauth-protected-resource"';
    for (const [method, path] of [
      ['GET', '/items'],
      ['POST', WELL_KNOWN],
      ['GET', `${WELL_KNOWN}/`],
      ['GET', WELL_KNOWN.toUpperCase()],
      ['GET', `${WELL_KNOWN}/other`],
    ] as const) {
      const res = await sendRequest(origin, { method, path });
      expect({
        method,
        path,
        status: res.status,
        challenge: res.headers['www-authenticate'],
      }).toEqual({ method, path, status: 401, challenge });
    }
  });

  it('serves the document of a resource with a path below the well-known one (RFC 9728 §3.1)', async () => {
    const origin = await serve({
      ...options,
      resourceMetadata: { resource: 'https://api.example/v1' },
    });
    const res = await sendRequest(origin, { path: `${WELL_KNOWN}/v1` });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ resource: 'https://api.example/v1' });
    expect((await sendRequest(origin, { path: WELL_KNOWN })).status).toBe(401);
  });

  it('throws at construction when the guard has no resourceMetadata', () => {
    const auth = jwtGuard({ issuer, audience, keys: keys.ES256.jwk });
    expect(() => protectedResourceMetadata(auth)).toThrow(ConfigurationError);
    expect(() => protectedResourceMetadata(auth)).toThrow(
      'protectedResourceMetadata(jwtGuard(options)) needs the "resourceMetadata" option, e.g. resourceMetadata: { resource: "https://api.example/" }',
    );
  });
});
