import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { afterEach } from '@jest/globals';
import { listenOnLoopback, type LoopbackServer } from './http.js';

/**
 * An app a shared scenario runs against, as a framework's glue builds it: its server, not
 * listening yet, and what to release once that server has closed.
 *
 * @example
 * ```ts
 * const express: TestApp = { server: http.createServer(app) };
 * const nest: TestApp = { server: nestApp.getHttpServer(), close: () => nestApp.close() };
 * ```
 */
export interface TestApp {
  readonly server: Server | HttpsServer;
  /** Called after the server closed, e.g. a Nest application's `close()`. */
  readonly close?: () => Promise<void>;
}

/**
 * Listens with the app's server on 127.0.0.1:0; closing it closes the server, then the app.
 *
 * @example
 * ```ts
 * const api = await listenApp({ server: https.createServer(tls, app) });
 * await sendRequest(api.origin, { path: '/orders', ca });
 * await api.close();
 * ```
 */
export async function listenApp(app: TestApp): Promise<LoopbackServer> {
  const server = await listenOnLoopback(app.server);
  return {
    origin: server.origin,
    port: server.port,
    async close() {
      await server.close();
      await app.close?.();
    },
  };
}

/**
 * Wraps a function that builds an app into one that listens with it and returns its origin;
 * every app a test served this way is closed after that test. Call it in a describe block (or
 * at the top of a file): it registers the `afterEach`.
 *
 * @example
 * ```ts
 * const serve = serveEach((options: GuardOptions) => Promise.resolve({ server: appWith(options) }));
 * it('answers', async () => {
 *   const origin = await serve(options);
 *   expect((await sendRequest(origin, { path: '/me' })).status).toBe(401);
 * });
 * ```
 */
export function serveEach<A extends unknown[]>(
  create: (...args: A) => Promise<TestApp>,
): (...args: A) => Promise<string> {
  const open: LoopbackServer[] = [];
  afterEach(async () => {
    for (const server of open.splice(0)) await server.close();
  });
  return async (...args) => {
    const server = await listenApp(await create(...args));
    open.push(server);
    return server.origin;
  };
}
