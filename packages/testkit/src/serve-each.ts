import { afterEach } from '@jest/globals';
import { listenApp, type TestApp } from './app.js';
import type { LoopbackServer } from './http.js';

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
