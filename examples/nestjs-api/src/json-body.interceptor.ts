import type { IncomingMessage } from 'node:http';
import {
  BadRequestException,
  Injectable,
  PayloadTooLargeException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Observable } from 'rxjs';

const LIMIT_BYTES = 16 * 1024;
const NOT_A_JSON_OBJECT = {
  error: 'invalid_request',
  message: 'the body must be a JSON object sent as application/json',
} as const;
const TOO_LARGE = { error: 'invalid_request', message: 'the body is larger than 16 KiB' } as const;

function isJson(request: IncomingMessage): boolean {
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/json';
}

function readLimited(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (): void => {
      request.off('data', onData).off('end', onEnd).off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > LIMIT_BYTES) {
        settle();
        // Drained, not destroyed: destroying the request would close the socket before the
        // 413 is written.
        request.resume();
        reject(new PayloadTooLargeException(TOO_LARGE));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      settle();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error): void => {
      settle();
      reject(error);
    };
    request.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/**
 * Reads a small JSON object body into `request.body`, for an app created with
 * `bodyParser: false`. Anything else (no body, another content type, `null`, an array,
 * malformed JSON) is a 400 and an oversized body a 413, each with a fixed JSON error.
 * Interceptors run after guards, so a caller without the route's scope never has its body read.
 *
 * @example
 * ```ts
 * @Post()
 * @RequireScope('orders:write')
 * @UseInterceptors(JsonObjectBody)
 * place(@Body() body: Record<string, unknown>) {}
 * ```
 */
@Injectable()
export class JsonObjectBody implements NestInterceptor {
  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest<IncomingMessage & { body?: unknown }>();
    // Checked before reading, so a body that could never be accepted is not buffered at all.
    if (!isJson(request)) throw new BadRequestException(NOT_A_JSON_OBJECT);
    const text = (await readLimited(request)).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // The parser's message quotes the body, which may hold a token: it is neither sent nor
      // logged.
      throw new BadRequestException(NOT_A_JSON_OBJECT);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BadRequestException(NOT_A_JSON_OBJECT);
    }
    request.body = body;
    return next.handle();
  }
}
