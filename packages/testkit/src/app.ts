import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
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
