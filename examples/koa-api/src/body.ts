import type { Context } from 'koa';

const LIMIT_BYTES = 16 * 1024;

/**
 * Reads a small JSON request body (Koa has no body parser of its own); an empty, oversized
 * or malformed body reads as `{}`, which the route then refuses as an invalid order.
 *
 * @example
 * ```ts
 * const { item } = (await readJson(ctx)) as { item?: unknown };
 * ```
 */
export async function readJson(ctx: Context): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > LIMIT_BYTES) ctx.throw(413, 'request body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return {};
  }
}
