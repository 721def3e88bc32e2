import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigurationError } from './errors.js';

/**
 * What a guard publishes as its RFC 9728 protected-resource metadata. The guard fills in the
 * rest from its own configuration (issuers, DPoP, token locations), so the document can never
 * disagree with what the guard enforces.
 *
 * @example
 * ```ts
 * createGuard({
 *   issuer, audience,
 *   resourceMetadata: { resource: 'https://api.example/', scopesSupported: ['read:items'] },
 * });
 * ```
 */
export interface ResourceMetadataOptions {
  /** The resource identifier (RFC 9728 §2): this API's https URL, as clients name it. */
  readonly resource: string;
  /** Scopes a client may ask for to call this API (`scopes_supported`). */
  readonly scopesSupported?: readonly string[];
  /** A human-readable name (`resource_name`). */
  readonly resourceName?: string;
  /** A page for developers (`resource_documentation`, https). */
  readonly resourceDocumentation?: string;
  /** Authorization servers to advertise; default every configured issuer. */
  readonly authorizationServers?: readonly string[];
}

/**
 * A resolved metadata document and where it is served.
 *
 * @example
 * ```ts
 * const resourceMetadata = { resource: 'https://api.example/v1' };
 * const guard = createGuard({ issuer, audience, resourceMetadata });
 * const metadata: ResourceMetadata | undefined = guard.resourceMetadata;
 * metadata?.path; // '/.well-known/oauth-protected-resource/v1'
 * metadata?.url; // 'https://api.example/.well-known/oauth-protected-resource/v1'
 * ```
 */
export interface ResourceMetadata {
  /** RFC 9728 §3.1: `/.well-known/oauth-protected-resource`, plus the resource's own path. */
  readonly path: string;
  /** The document's absolute URL, named by `resource_metadata` in challenges (§5.1). */
  readonly url: string;
  /** The metadata, frozen. */
  readonly document: Readonly<Record<string, unknown>>;
  /** The document serialised once, with its response headers. */
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * What the guard knows that the document states.
 *
 * @example
 * ```ts
 * const facts: ResourceMetadataFacts = {
 *   issuers: ['https://idp.example/'],
 *   tokenLocations: ['header'],
 *   dpopAlgorithms: ['ES256', 'EdDSA'],
 *   dpopRequired: false,
 * };
 * resolveResourceMetadata({ resource: 'https://api.example/' }, facts);
 * ```
 */
export interface ResourceMetadataFacts {
  readonly issuers: readonly string[];
  readonly tokenLocations: readonly string[];
  /** Proof algorithms when DPoP is configured. */
  readonly dpopAlgorithms: readonly string[] | undefined;
  readonly dpopRequired: boolean;
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';
const KNOWN = [
  'resource',
  'scopesSupported',
  'resourceName',
  'resourceDocumentation',
  'authorizationServers',
];
// RFC 6749 §3.3 scope-token.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function fail(message: string): never {
  throw new ConfigurationError(`"resourceMetadata": ${message}`);
}

function httpsUrl(name: string, value: unknown, fix: string): URL {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  // RFC 9728 §2: the resource identifier is an https URL without a fragment.
  if (url?.protocol !== 'https:' || url.hash !== '' || url.username !== '' || url.password !== '') {
    fail(`"${name}" must be an https URL without fragment or credentials, ${fix}`);
  }
  return url;
}

function stringList(name: string, value: unknown, valid: (item: string) => boolean): string[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((v) => typeof v === 'string' && valid(v))
  ) {
    fail(`"${name}" must be a non-empty array of strings`);
  }
  return [...new Set(value as string[])];
}

/**
 * Validates `resourceMetadata` once, at construction, and builds the document (RFC 9728 §2):
 * `resource`, `authorization_servers`, `bearer_methods_supported` (RFC 6750 methods the guard
 * reads), `scopes_supported`, `dpop_signing_alg_values_supported` and
 * `dpop_bound_access_tokens_required` (RFC 9449 §5.1), and
 * `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4; the guard always checks
 * certificate-bound tokens).
 *
 * @example
 * ```ts
 * const metadata = resolveResourceMetadata({ resource: 'https://api.example/v1' }, facts);
 * metadata.path; // '/.well-known/oauth-protected-resource/v1'
 * ```
 */
export function resolveResourceMetadata(
  options: ResourceMetadataOptions,
  facts: ResourceMetadataFacts,
): ResourceMetadata {
  if (typeof options !== 'object' || options === null) {
    fail('pass an object such as { resource: "https://api.example/" }');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) fail(`unknown option "${key}"; use one of ${KNOWN.join(', ')}`);
  }
  const resource = httpsUrl('resource', options.resource, 'e.g. "https://api.example/"');
  // RFC 9728 §2: a query is discouraged, and would leave the document's own URL ambiguous.
  if (resource.search !== '') fail('"resource" must not have a query');
  const document: Record<string, unknown> = { resource: options.resource };
  const servers =
    options.authorizationServers === undefined
      ? [...facts.issuers]
      : stringList('authorizationServers', options.authorizationServers, (s) => URL.canParse(s));
  document.authorization_servers = servers;
  // RFC 9728 §2 lists RFC 6750 methods only; a cookie is none of them.
  const methods = facts.tokenLocations.filter((l) => l === 'header' || l === 'query');
  document.bearer_methods_supported = methods;
  if (options.scopesSupported !== undefined) {
    document.scopes_supported = stringList('scopesSupported', options.scopesSupported, (s) =>
      SCOPE_TOKEN.test(s),
    );
  }
  if (options.resourceName !== undefined) {
    if (typeof options.resourceName !== 'string' || options.resourceName === '') {
      fail('"resourceName" must be a non-empty string');
    }
    document.resource_name = options.resourceName;
  }
  if (options.resourceDocumentation !== undefined) {
    httpsUrl('resourceDocumentation', options.resourceDocumentation, 'the page for developers');
    document.resource_documentation = options.resourceDocumentation;
  }
  document.tls_client_certificate_bound_access_tokens = true;
  if (facts.dpopAlgorithms !== undefined) {
    document.dpop_signing_alg_values_supported = [...facts.dpopAlgorithms];
    document.dpop_bound_access_tokens_required = facts.dpopRequired;
  }
  // RFC 9728 §3.1: the well-known segment goes between the host and the resource's path; a
  // resource that is only an origin (path "/") has no suffix.
  const suffix = resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '');
  const path = `${WELL_KNOWN}${suffix}`;
  const body = JSON.stringify(document);
  return Object.freeze({
    path,
    url: `${resource.origin}${path}`,
    document: Object.freeze(document),
    body,
    headers: Object.freeze({
      'Content-Type': 'application/json',
      // Stated here so that every adapter sends the same length, also to HEAD.
      'Content-Length': String(Buffer.byteLength(body)),
      // Public and stable for the life of the process; clients may cache it.
      'Cache-Control': 'public, max-age=3600',
    }),
  });
}

/**
 * A connect-style Node handler, as Express and Fastify's middie (under Nest) call one.
 *
 * @example
 * ```ts
 * const serveMetadata: ResourceMetadataHandler = createResourceMetadataHandler(metadata);
 * http.createServer((req, res) => serveMetadata(req, res, () => app(req, res)));
 * ```
 */
export type ResourceMetadataHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next: () => void,
) => void;

/**
 * The adapters' server of the document: GET and HEAD at its `path` (any query) get it with its
 * headers, through Node's own writer, so no framework adds a charset or an ETag, and HEAD gets
 * no body; every other request goes to `next()`.
 *
 * @example
 * ```ts
 * app.use(createResourceMetadataHandler(guard.resourceMetadata));
 * ```
 */
export function createResourceMetadataHandler(metadata: ResourceMetadata): ResourceMetadataHandler {
  return function protectedResourceMetadata(req, res, next) {
    if (!isResourceMetadataRequest(metadata, req.method, req.url)) next();
    else res.writeHead(200, metadata.headers).end(metadata.body);
  };
}

/**
 * Whether a request asks for the document: GET or HEAD at its `path`, with any query. For an
 * adapter that writes the answer through its framework.
 *
 * @example
 * ```ts
 * if (isResourceMetadataRequest(metadata, ctx.method, ctx.url)) ctx.body = metadata.body;
 * ```
 */
export function isResourceMetadataRequest(
  metadata: ResourceMetadata,
  method: string | undefined,
  url: string | undefined,
): boolean {
  return (method === 'GET' || method === 'HEAD') && url?.split('?', 1)[0] === metadata.path;
}
