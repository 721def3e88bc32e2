import { createServer } from 'node:http';
import {
  ConfigurationError,
  createGuard,
  createResourceMetadataHandler,
  type GuardOptions,
  type ResourceMetadata,
} from '@jwt-guard/core';
import {
  listenOnLoopback,
  refusalOf,
  sendRequest,
  testKeys,
  type LoopbackServer,
} from '@jwt-guard/testkit';

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const keys = testKeys();

function guardWith(options: Partial<GuardOptions>) {
  return createGuard({ issuer: ISSUER, audience: AUDIENCE, keys: keys.ES256.jwk, ...options });
}

describe('RFC 9728 protected-resource metadata', () => {
  it('is stated from the guard’s own configuration', () => {
    const guard = guardWith({
      resourceMetadata: {
        resource: 'https://api.example/',
        scopesSupported: ['read:items', 'write:items'],
        resourceName: 'Items API',
        resourceDocumentation: 'https://docs.example/items',
      },
    });
    expect(guard.resourceMetadata?.path).toBe('/.well-known/oauth-protected-resource');
    expect(guard.resourceMetadata?.url).toBe(
      'https://api.example/.well-known/oauth-protected-resource',
    );
    expect(JSON.parse(guard.resourceMetadata?.body ?? '')).toEqual({
      resource: 'https://api.example/',
      authorization_servers: [ISSUER],
      bearer_methods_supported: ['header'],
      scopes_supported: ['read:items', 'write:items'],
      resource_name: 'Items API',
      resource_documentation: 'https://docs.example/items',
      tls_client_certificate_bound_access_tokens: true,
    });
    expect(guard.resourceMetadata?.headers).toEqual({
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(guard.resourceMetadata?.body ?? '')),
      'Cache-Control': 'public, max-age=3600',
    });
  });

  it('puts the well-known segment before the resource’s path (RFC 9728 §3.1)', () => {
    const guard = guardWith({ resourceMetadata: { resource: 'https://api.example/v1/' } });
    expect(guard.resourceMetadata?.path).toBe('/.well-known/oauth-protected-resource/v1');
    expect(guard.resourceMetadata?.url).toBe(
      'https://api.example/.well-known/oauth-protected-resource/v1',
    );
  });

  it('states DPoP algorithms and whether DPoP-bound tokens are required', () => {
    const guard = guardWith({
      dpop: { mode: 'required', origin: 'https://api.example', algorithms: ['ES256', 'EdDSA'] },
      resourceMetadata: { resource: 'https://api.example/' },
    });
    expect(guard.resourceMetadata?.document).toMatchObject({
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
      dpop_bound_access_tokens_required: true,
    });
  });

  it('lists every issuer as an authorization server, and the query method when enabled', () => {
    const other = 'https://other.example/';
    const guard = createGuard({
      issuer: [
        { issuer: ISSUER, keys: keys.ES256.jwk },
        { issuer: other, keys: keys.EdDSA.jwk },
      ],
      audience: AUDIENCE,
      tokenLocations: ['header', 'query'],
      resourceMetadata: { resource: 'https://api.example/' },
    });
    expect(guard.resourceMetadata?.document).toMatchObject({
      authorization_servers: [ISSUER, other],
      bearer_methods_supported: ['header', 'query'],
    });
  });

  it('is named by resource_metadata in every challenge (RFC 9728 §5.1)', async () => {
    const guard = guardWith({ resourceMetadata: { resource: 'https://api.example/' } });
    const error = await refusalOf(guard.authenticate({ method: 'GET', url: '/', headers: [] }));
    expect(error.headers['WWW-Authenticate']).toBe(
      'Bearer resource_metadata="https://api.example/.well-known/oauth-protected-resource"',
    );
  });

  it('is absent without the option', () => {
    expect(guardWith({}).resourceMetadata).toBeUndefined();
  });

  it.each<[string, unknown, RegExp]>([
    ['no resource', {}, /"resource" must be an https URL/],
    ['an http resource', { resource: 'http://api.example/' }, /"resource" must be an https URL/],
    ['a fragment', { resource: 'https://api.example/#x' }, /without fragment/],
    ['a query', { resource: 'https://api.example/?v=1' }, /must not have a query/],
    [
      'an unknown option',
      { resource: 'https://api.example/', scopes: [] },
      /unknown option "scopes"/,
    ],
    [
      'a scope with a space',
      { resource: 'https://api.example/', scopesSupported: ['read items'] },
      /"scopesSupported" must be a non-empty array of strings/,
    ],
    [
      'http documentation',
      { resource: 'https://api.example/', resourceDocumentation: 'http://docs.example/' },
      /"resourceDocumentation" must be an https URL/,
    ],
  ])('refuses %s at construction', (_name, resourceMetadata, message) => {
    expect(() => guardWith({ resourceMetadata } as Partial<GuardOptions>)).toThrow(
      ConfigurationError,
    );
    expect(() => guardWith({ resourceMetadata } as Partial<GuardOptions>)).toThrow(message);
  });
});

describe('createResourceMetadataHandler', () => {
  const guard = guardWith({ resourceMetadata: { resource: 'https://api.example/v1' } });
  const metadata = guard.resourceMetadata as ResourceMetadata;
  let server: LoopbackServer;
  beforeAll(async () => {
    const handler = createResourceMetadataHandler(metadata);
    server = await listenOnLoopback(
      createServer((req, res) => {
        handler(req, res, () => res.writeHead(404).end('next'));
      }),
    );
  });
  afterAll(() => server.close());

  it('answers GET and HEAD at its path, with any query, with the document and its headers', async () => {
    for (const [method, path] of [
      ['GET', metadata.path],
      ['GET', `${metadata.path}?x=1`],
      ['HEAD', metadata.path],
    ] as const) {
      const res = await sendRequest(server.origin, { method, path });
      expect(res.status).toBe(200);
      expect(res.text).toBe(method === 'HEAD' ? '' : metadata.body);
      expect(res.headers).toMatchObject({
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(metadata.body)),
        'cache-control': 'public, max-age=3600',
      });
    }
  });

  it('passes every other request on', async () => {
    for (const [method, path] of [
      ['POST', metadata.path],
      ['GET', `${metadata.path}/`],
      ['GET', '/.well-known/oauth-protected-resource'],
      ['GET', '/v1'],
    ] as const) {
      const res = await sendRequest(server.origin, { method, path });
      expect([method, path, res.status, res.text]).toEqual([method, path, 404, 'next']);
    }
  });
});
