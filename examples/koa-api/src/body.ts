import type { Context } from 'koa';

const LIMIT_BYTES = 16 * 1024;
const NOT_A_JSON_OBJECT = {
  error: 'invalid_request',
  message: 'the body must be a JSON object sent as application/json',
} as const;
const TOO_LARGE = { error: 'invalid_request', message: 'the body is larger than 16 KiB' } as const;

/**
 * Reads a small JSON object body (Koa has no body parser of its own). Anything else (no body,
 * another content type, `null`, an array, malformed JSON) is answered 400 and an oversized
 * body 413, each with a fixed JSON error, and the result is `undefined`: the route just returns.
 *
 * @example
 * ```ts
 * const body = await readJsonObject(ctx);
 * if (body === undefined) return;
 * const { item } = body;
 * ```
 */
export async function readJsonObject(ctx: Context): Promise<Record<string, unknown> | undefined> {
  // Checked before reading, so a body that could never be accepted is not buffered at all.
  if (ctx.request.is('application/json') !== 'application/json') {
    return refuse(ctx, 400, NOT_A_JSON_OBJECT);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > LIMIT_BYTES) return refuse(ctx, 413, TOO_LARGE);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    // The parser's message quotes the body, which may hold a token: it is neither sent nor logged.
    return refuse(ctx, 400, NOT_A_JSON_OBJECT);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return refuse(ctx, 400, NOT_A_JSON_OBJECT);
  }
  return body as Record<string, unknown>;
}

function refuse(ctx: Context, status: number, body: object): undefined {
  ctx.status = status;
  ctx.body = body;
  return undefined;
}
