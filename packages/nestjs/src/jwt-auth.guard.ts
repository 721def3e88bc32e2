import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import {
  isJwtGuardError,
  mergeRequirements,
  type AuthContext,
  type GuardRequest,
  type HeadersInput,
} from '@jwt-guard/core';
import { OneTimeToken, Public, Requirements } from './jwt-guard.decorators.js';
import { JwtGuardException } from './jwt-guard.exception.js';
import { InjectJwtGuard, JwtGuard } from './jwt-guard.token.js';

/** The request shapes the guard reads: Express's, Fastify's (`raw`), or one of your own. */
export interface JwtGuardedRequest {
  readonly method?: string;
  readonly url?: string;
  readonly originalUrl?: string;
  readonly rawHeaders?: readonly string[];
  readonly raw?: { readonly rawHeaders?: readonly string[] };
  readonly headers?: HeadersInput;
  /** Set by the guard once the token is verified. */
  auth?: AuthContext;
}

// Node's parsed `headers` keep only the first Authorization header; the raw list (Express:
// `req.rawHeaders`, Fastify: `req.raw.rawHeaders`) keeps all, so core can refuse an ambiguous
// request. For the same reason core reads cookies from the raw header, never from a cookie
// parser's `req.cookies`, which keeps one of two same-name cookies (cookie tossing).
function toGuardRequest(request: JwtGuardedRequest | undefined, type: string): GuardRequest {
  const headers = request?.rawHeaders ?? request?.raw?.rawHeaders ?? request?.headers;
  if (request?.method === undefined || headers === undefined) {
    // Fail closed: a guard that cannot see the request must not let it through.
    throw new Error(
      `JwtAuthGuard found no HTTP request in a "${type}" context; override getRequest`,
    );
  }
  const url = request.originalUrl ?? request.url ?? '/';
  return { method: request.method, url, headers };
}

/**
 * Verifies the access token and sets `request.auth`, then checks the requirements of the
 * controller and of the handler together. `JwtGuardModule` installs it globally unless
 * `global: false`; then use `@UseGuards(JwtAuthGuard)`. Subclass it and override
 * `getRequest` (and `getResponse`) to guard GraphQL resolvers or other contexts.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class GqlJwtAuthGuard extends JwtAuthGuard {
 *   override getRequest(context: ExecutionContext) {
 *     return GqlExecutionContext.create(context).getContext<{ req: JwtGuardedRequest }>().req;
 *   }
 * }
 * ```
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    protected readonly reflector: Reflector,
    @InjectJwtGuard() protected readonly guard: JwtGuard,
    protected readonly adapterHost: HttpAdapterHost,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const handler = context.getHandler();
    const controller = context.getClass();
    if (this.reflector.getAllAndOverride(Public, [handler, controller])) return true;
    const request = this.getRequest(context);
    const guardRequest = toGuardRequest(request, context.getType());
    try {
      const auth = await this.guard.authenticate(guardRequest);
      if (auth !== undefined) request.auth = auth;
      const requirements = this.reflector.getAll(Requirements, [controller, handler]);
      const defined = requirements.filter((requirement) => requirement !== undefined);
      // A route without requirements serves anonymous callers under credentialsRequired: false.
      if (defined.length > 0) this.guard.authorize(auth, mergeRequirements(...defined));
      // Requirements first: a refused request must not use up the token.
      if (this.reflector.get(OneTimeToken, handler)) {
        await this.guard.consumeOnce(auth, `${controller.name}.${handler.name}`);
      }
      return true;
    } catch (error) {
      throw this.refusal(error, context);
    }
  }

  /** The request to read the token from and to set `auth` on; HTTP by default. */
  getRequest(context: ExecutionContext): JwtGuardedRequest {
    return context.switchToHttp().getRequest<JwtGuardedRequest>();
  }

  /** The response that gets the `WWW-Authenticate` header; none outside HTTP by default. */
  getResponse(context: ExecutionContext): unknown {
    return context.getType() === 'http' ? context.switchToHttp().getResponse<unknown>() : undefined;
  }

  // Nest's HttpException carries no headers: the challenge goes on the response first, through
  // the platform's adapter (Express and Fastify alike), and then survives any exception filter.
  private refusal(error: unknown, context: ExecutionContext): unknown {
    if (!isJwtGuardError(error)) return error;
    const response = this.getResponse(context);
    const adapter = this.adapterHost.httpAdapter as typeof this.adapterHost.httpAdapter | undefined;
    if (response !== undefined && adapter !== undefined) {
      for (const [name, value] of Object.entries(error.headers)) {
        adapter.setHeader(response, name, value);
      }
    }
    return new JwtGuardException(error);
  }
}
