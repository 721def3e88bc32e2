import { X509Certificate, createHash } from 'node:crypto';
import { createLruCache } from './cache.js';
import { ConfigurationError } from './errors.js';
import { headerValues, type GuardRequest } from './request.js';

/**
 * Mutual-TLS settings (RFC 8705). Certificate-bound tokens are checked without any setting,
 * against the certificate of the TLS connection; this is only for a TLS-terminating proxy.
 *
 * @example
 * ```ts
 * createGuard({ issuer, audience, mtls: { certificateHeader: 'x-client-cert' } });
 * ```
 */
export interface MtlsOptions {
  /**
   * A header in which a trusted TLS-terminating proxy forwards the client certificate: PEM
   * (also on one line), URL-encoded PEM (nginx's `$ssl_client_escaped_cert`, AWS ALB),
   * base64 DER, or an RFC 9440 `Client-Cert` byte sequence. When set, the certificate is read
   * only from it; the proxy must always overwrite what clients send.
   */
  readonly certificateHeader?: string;
}

/**
 * Reads the SHA-256 thumbprint of a request's client certificate (RFC 8705 §3.1).
 *
 * @example
 * ```ts
 * const thumbprint: CertificateThumbprint = createCertificateThumbprint({
 *   certificateHeader: 'x-client-cert',
 * });
 * thumbprint(request); // base64url SHA-256 of the forwarded certificate's DER, or undefined
 * ```
 */
export type CertificateThumbprint = (request: GuardRequest) => string | undefined;

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_HEADER_LENGTH = 16_384;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function thumbprintOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

function fromSocket(request: GuardRequest): string | undefined {
  const certificate = request.socket?.getPeerCertificate?.(false);
  // Node answers {} (no `raw`) on a TLS connection where the client sent no certificate.
  const raw = certificate?.raw;
  return raw instanceof Uint8Array && raw.length > 0 ? thumbprintOf(raw) : undefined;
}

// The forms TLS-terminating proxies forward a certificate in: PEM, URL-encoded PEM (nginx
// `$ssl_client_escaped_cert`, AWS ALB), PEM flattened to one line (newlines turned to spaces
// or tabs), base64 DER (Traefik, Cloudflare), and RFC 9440 `Client-Cert: :base64 DER:`.
function derOf(value: string): Buffer | undefined {
  let text = value.trim();
  if (text.length > 2 && text.startsWith(':') && text.endsWith(':')) {
    // RFC 9440 §2.2: a structured-field byte sequence.
    text = text.slice(1, -1);
  } else if (text.includes('%')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      return undefined;
    }
  }
  // A chain starts with the client's own certificate (RFC 8446 §4.4.2): that one is bound.
  const pem = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/.exec(text);
  const body = (pem === null ? text : (pem[1] as string)).replace(/\s+/g, '');
  return BASE64.test(body) ? Buffer.from(body, 'base64') : undefined;
}

function parseForwarded(value: string): string | undefined {
  const der = derOf(value);
  if (der === undefined) return undefined;
  try {
    return thumbprintOf(new X509Certificate(der).raw);
  } catch {
    return undefined;
  }
}

/**
 * Validates `mtls` options once and returns the thumbprint reader: from the trusted proxy
 * header when configured, otherwise from the request's TLS socket.
 *
 * @example
 * ```ts
 * const thumbprint = createCertificateThumbprint(undefined);
 * thumbprint({ method: 'GET', url: '/', headers: [], socket: req.socket });
 * ```
 */
export function createCertificateThumbprint(
  options: MtlsOptions | undefined,
): CertificateThumbprint {
  if (options === undefined) return fromSocket;
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('"mtls" must be an object such as { certificateHeader }');
  }
  for (const key of Object.keys(options)) {
    if (key !== 'certificateHeader') {
      throw new ConfigurationError(`"mtls": unknown option "${key}"; use certificateHeader`);
    }
  }
  const header = options.certificateHeader;
  if (header === undefined) return fromSocket;
  if (typeof header !== 'string' || !HEADER_NAME.test(header)) {
    throw new ConfigurationError(
      '"mtls.certificateHeader" must be a header name such as "x-client-cert"',
    );
  }
  const name = header.toLowerCase();
  // Parsing a certificate costs tens of microseconds; a client sends the same one each time.
  const parsed = createLruCache<string, string | null>(256);
  return (request) => {
    const values = headerValues(request.headers, name);
    if (values.length !== 1) return undefined;
    const value = values[0] as string;
    if (value.length === 0 || value.length > MAX_HEADER_LENGTH) return undefined;
    let thumbprint = parsed.get(value);
    if (thumbprint === undefined) {
      thumbprint = parseForwarded(value) ?? null;
      parsed.set(value, thumbprint);
    }
    return thumbprint ?? undefined;
  };
}
