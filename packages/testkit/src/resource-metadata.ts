// The RFC 9728 protected-resource metadata as the adapters serve it: to anyone, in front of a
// guard that protects everything else. Express and Koa mount a middleware; the Nest module
// serves it by itself at the root, so the two share the document's answers but not the routing.
import { expect, it } from '@jest/globals';
import { sendRequest } from './http.js';
import { createStaticFixture } from './static-fixture.js';

const fixture = createStaticFixture();

/**
 * Guard options with `resourceMetadata` (and DPoP, which the document announces), over the
 * {@link createStaticFixture} key and clock.
 *
 * @example
 * ```ts
 * const auth = jwtGuard(RESOURCE_METADATA.options as unknown as GuardOptions);
 * app.use(protectedResourceMetadata(auth));
 * ```
 */
export const RESOURCE_METADATA = {
  options: {
    ...fixture.options,
    dpop: { origin: 'https://api.example', algorithms: ['ES256', 'EdDSA'] },
    resourceMetadata: {
      resource: 'https://api.example/',
      scopesSupported: ['read:items', 'write:items'],
      resourceName: 'Items API',
    },
  },
  /** The document those options make. */
  document: {
    resource: 'https://api.example/',
    authorization_servers: [fixture.issuer],
    bearer_methods_supported: ['header'],
    scopes_supported: ['read:items', 'write:items'],
    resource_name: 'Items API',
    tls_client_certificate_bound_access_tokens: true,
    dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
    dpop_bound_access_tokens_required: false,
  },
  /** Where it is served (RFC 9728 §3). */
  wellKnown: '/.well-known/oauth-protected-resource',
  /** The guard's challenge to a request without a token: it names the document. */
  challenge:
    'Bearer resource_metadata="https://api.example/.well-known/oauth-protected-resource", DPoP algs="ES256 EdDSA", resource_metadata="https://api.example/.well-known/oauth-protected-resource"',
} as const;

const WELL_KNOWN = RESOURCE_METADATA.wellKnown;

/**
 * Serves the app an adapter's test builds, guarded with these options (default
 * {@link RESOURCE_METADATA}'s) and serving the document, with `GET /items` behind the guard;
 * answers the origin it listens on.
 *
 * @example
 * ```ts
 * const serve: ResourceMetadataServe = serveEach((options = RESOURCE_METADATA.options) =>
 *   Promise.resolve({ server: http.createServer(appWith(options)) }),
 * );
 * ```
 */
export type ResourceMetadataServe = (options?: Record<string, unknown>) => Promise<string>;

/**
 * Declares, in the current describe block, the tests of the document's answers that every
 * adapter gives alike: GET with the document and its headers, HEAD with the same headers.
 *
 * @example
 * ```ts
 * describe('protectedResourceMetadata()', () => {
 *   resourceMetadataDocumentTests(serve);
 * });
 * ```
 */
export function resourceMetadataDocumentTests(serve: ResourceMetadataServe): void {
  it('answers GET with the document and its headers, without a token', async () => {
    const res = await sendRequest(await serve(), { path: WELL_KNOWN });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual(RESOURCE_METADATA.document);
    expect(res.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(res.text)),
      'cache-control': 'public, max-age=3600',
    });
    expect(res.headers.etag).toBeUndefined();
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
}

/**
 * An adapter whose `protectedResourceMetadata(jwtGuard(options))` middleware serves the
 * document (Express, Koa): its own functions, and how its test serves an app with them.
 *
 * @example
 * ```ts
 * const harness: ResourceMetadataMiddlewareHarness<GuardMiddleware> = {
 *   serve,
 *   jwtGuard,
 *   protectedResourceMetadata,
 *   ConfigurationError,
 * };
 * ```
 */
export interface ResourceMetadataMiddlewareHarness<Guard> {
  /** The middleware mounted before the guard, every other route after it. */
  readonly serve: ResourceMetadataServe;
  /** The adapter's `jwtGuard` (its options are core's `GuardOptions`). */
  readonly jwtGuard: (options: never) => Guard;
  readonly protectedResourceMetadata: (guard: Guard) => unknown;
  /** Core's `ConfigurationError` (the testkit does not depend on core). */
  readonly ConfigurationError: abstract new (...args: never[]) => Error;
}

/**
 * Declares, in the current describe block, the tests of a `protectedResourceMetadata()`
 * middleware: the document's answers, then what it leaves to the guard behind it.
 *
 * @example
 * ```ts
 * describe('protectedResourceMetadata()', () => {
 *   resourceMetadataMiddlewareTests(harness);
 * });
 * ```
 */
export function resourceMetadataMiddlewareTests<Guard>(
  harness: ResourceMetadataMiddlewareHarness<Guard>,
): void {
  const { serve, jwtGuard, protectedResourceMetadata, ConfigurationError } = harness;
  const { options } = RESOURCE_METADATA;

  resourceMetadataDocumentTests(serve);

  it('answers with a query string too', async () => {
    const res = await sendRequest(await serve(), { path: `${WELL_KNOWN}?x=1` });
    expect(res.status).toBe(200);
  });

  it('leaves every other request to the guard, whose challenges name the document', async () => {
    const origin = await serve();
    const { challenge } = RESOURCE_METADATA;
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
    const { issuer, audience, keys } = fixture.options;
    const auth = jwtGuard({ issuer, audience, keys } as never);
    expect(() => protectedResourceMetadata(auth)).toThrow(ConfigurationError);
    expect(() => protectedResourceMetadata(auth)).toThrow(
      'protectedResourceMetadata(jwtGuard(options)) needs the "resourceMetadata" option, e.g. resourceMetadata: { resource: "https://api.example/" }',
    );
  });
}
