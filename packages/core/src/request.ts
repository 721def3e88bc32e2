/**
 * Request headers as a framework hands them over: Node's `rawHeaders` (a flat
 * `[name, value, name, value, …]` list, which keeps repeated headers), a header object, or
 * a WHATWG `Headers`. Pass `rawHeaders` where you have them: Node's parsed `headers` keep
 * only the first of two `Authorization` headers, hiding an ambiguous request.
 *
 * @example
 * ```ts
 * const fromNode: HeadersInput = req.rawHeaders; // ['Host', 'api.example', 'Authorization', …]
 * const fromFetch: HeadersInput = new Headers({ authorization: `Bearer ${token}` });
 * headerValues(fromFetch, 'authorization'); // [`Bearer ${token}`]
 * ```
 */
export type HeadersInput =
  | readonly string[]
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { forEach(callback: (value: string, name: string) => void): void };

/**
 * A framework-neutral request: what an adapter hands to core.
 *
 * @example
 * ```ts
 * const request: GuardRequest = { method: req.method, url: req.originalUrl, headers: req.rawHeaders };
 * ```
 */
export interface GuardRequest {
  readonly method: string;
  /** Path and query as received (`/items?x=1`), or an absolute URL. */
  readonly url: string;
  readonly headers: HeadersInput;
  /** Parsed cookies, when the framework already has them; otherwise `Cookie` is parsed. */
  readonly cookies?: Readonly<Record<string, string | undefined>> | undefined;
  /**
   * The connection the request came on (Node's `req.socket`). On a TLS connection its peer
   * certificate is what an RFC 8705 certificate-bound token is checked against.
   */
  readonly socket?: PeerCertificateSource | undefined;
}

/**
 * What core reads of a Node `TLSSocket`; a plain socket has no `getPeerCertificate`. An
 * object type with only optional members would refuse a `net.Socket` (TypeScript's weak-type
 * check), so `req.socket` of any Node server is accepted as it is.
 *
 * @example
 * ```ts
 * https.createServer({ key, cert, requestCert: true, rejectUnauthorized: false }, (req, res) => {
 *   const socket: PeerCertificateSource = req.socket; // a TLSSocket: the client certificate
 *   const request = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.rawHeaders };
 *   void guard.authenticate({ ...request, socket });
 * });
 * ```
 */
export type PeerCertificateSource = object & {
  getPeerCertificate?: (detailed?: boolean) => { readonly raw?: Uint8Array } | null | undefined;
};

/**
 * Every value of one header (case-insensitive name), in order.
 *
 * @example
 * ```ts
 * headerValues(['Authorization', 'Bearer a', 'authorization', 'Bearer b'], 'authorization'); // ['Bearer a', 'Bearer b']
 * ```
 */
export function headerValues(headers: HeadersInput, name: string): string[] {
  const values: string[] = [];
  if (Array.isArray(headers)) {
    const list = headers as readonly string[];
    for (let i = 0; i + 1 < list.length; i += 2) {
      const key = list[i] as string;
      if (key.length === name.length && key.toLowerCase() === name)
        values.push(list[i + 1] as string);
    }
    return values;
  }
  if (typeof (headers as { forEach?: unknown }).forEach === 'function' && !isPlainRecord(headers)) {
    (headers as { forEach(cb: (value: string, key: string) => void): void }).forEach(
      (value, key) => {
        if (key.toLowerCase() === name) values.push(value);
      },
    );
    return values;
  }
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    if (Array.isArray(value)) values.push(...(value as string[]));
    else if (typeof value === 'string') values.push(value);
  }
  return values;
}

function isPlainRecord(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
