// The RFC 9728 document served by JwtGuardModule when `resourceMetadata` is configured: at the
// root, to anyone, on Express and on Fastify, while the global guard protects every route.
import type { Server } from 'node:http';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import type { GuardOptions } from '@jwt-guard/core';
import { JwtGuardModule } from '@jwt-guard/nestjs';
import { createStaticFixture, sendRequest } from '@jwt-guard/testkit';
import {
  RESOURCE_METADATA,
  resourceMetadataDocumentTests,
  serveEach,
} from '@jwt-guard/testkit/jest';
import { createNestApp, PLATFORMS, type Platform } from './platforms.js';

const fixture = createStaticFixture();
const { options, document, challenge, wellKnown: WELL_KNOWN } = RESOURCE_METADATA;

@Controller('items')
class ItemsController {
  @Get()
  list() {
    return [];
  }
}

describe.each(PLATFORMS)('the protected-resource metadata on %s', (platform: Platform) => {
  const serve = serveEach(
    async (
      guardOptions: Record<string, unknown> = options,
      configure?: (nest: INestApplication<Server>) => void,
    ) => {
      const app = await createNestApp(
        platform,
        [JwtGuardModule.forRoot(guardOptions as unknown as GuardOptions)],
        configure,
        [ItemsController],
      );
      return { server: app.getHttpServer(), close: () => app.close() };
    },
  );

  resourceMetadataDocumentTests(serve);

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
