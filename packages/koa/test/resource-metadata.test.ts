// protectedResourceMetadata(): the RFC 9728 document served by the Koa adapter, to anyone, in
// front of a guard that protects everything else.
import { createServer } from 'node:http';
import Koa from 'koa';
import { ConfigurationError, type GuardOptions } from '@jwt-guard/core';
import { jwtGuard, protectedResourceMetadata } from '@jwt-guard/koa';
import {
  RESOURCE_METADATA,
  resourceMetadataMiddlewareTests,
  serveEach,
} from '@jwt-guard/testkit/jest';

describe('protectedResourceMetadata()', () => {
  const serve = serveEach((options: Record<string, unknown> = RESOURCE_METADATA.options) => {
    const app = new Koa();
    app.on('error', () => {});
    const auth = jwtGuard(options as unknown as GuardOptions);
    app.use(protectedResourceMetadata(auth));
    app.use(auth);
    app.use((ctx) => {
      ctx.body = [];
    });
    const handle = app.callback();
    const server = createServer((req, res) => {
      void handle(req, res);
    });
    return Promise.resolve({ server });
  });

  resourceMetadataMiddlewareTests({
    serve,
    jwtGuard,
    protectedResourceMetadata,
    ConfigurationError,
  });
});
