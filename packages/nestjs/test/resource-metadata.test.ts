// The RFC 9728 document served by JwtGuardModule when `resourceMetadata` is configured: at the
// root, to anyone, on Express and on Fastify, while the global guard protects every route.
import type { Server } from 'node:http';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import type { GuardOptions } from '@jwt-guard/core';
import { JwtGuardModule } from '@jwt-guard/nestjs';
import { listenOnLoopback, sendRequest, type LoopbackServer } from '@jwt-guard/testkit';
import { createNestApp, PLATFORMS, staticFixture, type Platform } from './platforms.js';

const fixture = staticFixture();
const options: GuardOptions = {
  ...fixture.options,
  dpop: { origin: 'https://api.example', algorithms: ['ES256', 'EdDSA'] },
  resourceMetadata: {
    resource: 'https://api.example/',
    scopesSupported: ['read:items', 'write:items'],
    resourceName: 'Items API',
  },
};
const document = {
  resource: 'https://api.example/',
  authorization_servers: [fixture.options.issuer],
  bearer_methods_supported: ['header'],
  scopes_supported: ['read:items', 'write:items'],
  resource_name: 'Items API',
  tls_client_certificate_bound_access_tokens: true,
  dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
  dpop_bound_access_tokens_required: false,
};
const WELL_KNOWN = '/.well-known/oauth-protected-resource';
const challenge =
  'Bearer resource_metadata="https://api.example/.well-known/oauth-protected-resource", DPoP algs="ES256 EdDSA", resource_metadata="https://api.example/.well-known/oauth-protected-resource"';

@Controller('items')
class ItemsController {
  @Get()
  list() {
    return [];
  }
}

describe.each(PLATFORMS)('the protected-resource metadata on %s', (platform: Platform) => {
  let app: INestApplication<Server> | undefined;
  let server: LoopbackServer | undefined;
  afterEach(async () => {
    await server?.close();
    await app?.close();
  });

  async function serve(
    guardOptions: GuardOptions = options,
    configure?: (nest: INestApplication<Server>) => void,
  ): Promise<string> {
    app = await createNestApp(platform, [JwtGuardModule.forRoot(guardOptions)], configure, [
      ItemsController,
    ]);
    server = await listenOnLoopback(app.getHttpServer());
    return server.origin;
  }

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

  it('leaves the guard on every other route, its challenges naming the document', async () => {
    const res = await sendRequest(await serve(), { path: '/items' });
    expect([res.status, res.headers['www-authenticate']]).toEqual([401, challenge]);
  });

  // RFC 9728 §3.1: the well-known path is at the root, whatever prefix the API's routes have.
  it('serves the document at the root under a global prefix', async () => {
    const origin = await serve(options, (nest) => nest.setGlobalPrefix('api'));
    const res = await sendRequest(origin, { path: `${WELL_KNOWN}?x=1` });
    expect([res.status, JSON.parse(res.text)]).toEqual([200, document]);
    expect((await sendRequest(origin, { path: '/api/items' })).status).toBe(401);
  });

  it('serves a resource with a path below the well-known one, and only GET and HEAD', async () => {
    const origin = await serve({
      ...options,
      resourceMetadata: { resource: 'https://api.example/v1' },
    });
    const res = await sendRequest(origin, { path: `${WELL_KNOWN}/v1` });
    expect([res.status, (JSON.parse(res.text) as { resource: string }).resource]).toEqual([
      200,
      'https://api.example/v1',
    ]);
    expect((await sendRequest(origin, { path: WELL_KNOWN })).status).toBe(404);
    expect((await sendRequest(origin, { method: 'POST', path: `${WELL_KNOWN}/v1` })).status).toBe(
      404,
    );
  });

  it('serves nothing without the option', async () => {
    const origin = await serve(fixture.options);
    expect((await sendRequest(origin, { path: WELL_KNOWN })).status).toBe(404);
  });
});
