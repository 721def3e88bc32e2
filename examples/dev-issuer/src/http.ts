import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A response as data: handlers return one, and only the server writes it to the socket.
 *
 * @example
 * ```ts
 * const answer: HttpAnswer = { status: 404, body: { error: 'not_found' } };
 * ```
 */
export interface HttpAnswer {
  readonly status: number;
  readonly body: object;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The largest request body the issuer reads. A token request is a few hundred bytes; anything
 * larger is refused before it is buffered.
 *
 * @example
 * ```ts
 * if (length > MAX_BODY_BYTES) return tooLarge();
 * ```
 */
export const MAX_BODY_BYTES = 16 * 1024;

/**
 * Reads a request body up to `limitBytes`; `undefined` means the body is larger. The rest of an
 * oversized body is discarded, never buffered: answer 413 with `connection: close` so the
 * socket goes away instead of draining an endless upload.
 *
 * @example
 * ```ts
 * const body = await readBody(req, MAX_BODY_BYTES);
 * if (body === undefined) return { status: 413, body: { error: 'invalid_request' } };
 * ```
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    // A declared length over the limit is refused without reading a byte.
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limitBytes) {
      req.resume();
      return resolve(undefined);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limitBytes) return void chunks.push(chunk);
      // Chunked bodies carry no length: only a running count stops them. The stream is not
      // destroyed (that would take the socket, and the 413, with it); it is just not kept.
      req.off('data', onData);
      req.resume();
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(size > limitBytes ? undefined : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/**
 * Writes a JSON answer. Every response says `nosniff`, and error bodies go out the same way as
 * successes.
 *
 * @example
 * ```ts
 * writeAnswer(res, { status: 200, body: { keys: [] } });
 * ```
 */
export function writeAnswer(res: ServerResponse, answer: HttpAnswer): void {
  const body = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    ...answer.headers,
  });
  res.end(body);
}
