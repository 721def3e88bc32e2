// protectedResourceMetadata(): the RFC 9728 document served by the Express adapter, to anyone,
// in front of a guard that protects everything else.
import { createServer } from 'node:http';
import express from 'express';
import { ConfigurationError, type GuardOptions } from '@jwt-guard/core';
import { jwtGuard, protectedResourceMetadata } from '@jwt-guard/express';
import {
  RESOURCE_METADATA,
  resourceMetadataMiddlewareTests,
  serveEach,
} from '@jwt-guard/testkit/jest';

describe('protectedResourceMetadata()', () => {
  const serve = serveEach((options: Record<string, unknown> = RESOURCE_METADATA.options) => {
    const app = express();
    const auth = jwtGuard(options as unknown as GuardOptions);
    app.use(protectedResourceMetadata(auth));
    app.use(auth);
    app.get('/items', (_req, res) => {
      res.json([]);
    });
    return Promise.resolve({ server: createServer(app) });
  });

  resourceMetadataMiddlewareTests({
    serve,
    jwtGuard,
    protectedResourceMetadata,
    ConfigurationError,
  });
});
