import { Injectable, type CanActivate, type ExecutionContext, type Type } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import {
  isJwtGuardError,
  mergeRequirements,
  type AuthContext,
  type GuardRequest,
  type HeadersInput,
  type PeerCertificateSource,
} from '@jwt-guard/core';
import { OneTimeToken, Public, Requirements, verifiedAuth } from './jwt-guard.decorators.js';
import { JwtGuardContextException, JwtGuardException } from './jwt-guard.exception.js';
import { InjectJwtGuard, JwtGuard } from './jwt-guard.token.js';

/**
 * The request shapes the guard reads: Express's, Fastify's (`raw`), or one of your own.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class WsJwtAuthGuard extends JwtAuthGuard {
 *   override getRequest(context: ExecutionContext): JwtGuardedRequest | undefined {
 *     const { handshake } = context.switchToWs().getClient<Socket>();
 *     return { method: 'GET', url: handshake.url, headers: handshake.headers };
 *   }
 * }
 * ```
 */
export interface JwtGuardedRequest {
  readonly method?: string;
  readonly url?: string;
  readonly originalUrl?: string;
  readonly rawHeaders?: readonly string[];
  readonly raw?: Pick<JwtGuardedRequest, 'rawHeaders' | 'socket'>;
  readonly headers?: HeadersInput;
  readonly socket?: PeerCertificateSource;
  /** Set by the guard: the verified token, or `undefined` for an anonymous caller. */
  auth?: AuthContext | undefined;
}

// Node's parsed `headers` keep only the first Authorization header; the raw list (Express:
// `req.rawHeaders`, Fastify: `req.raw.rawHeaders`) keeps all, so core can refuse an ambiguous
// request. For the same reason core reads cookies from the raw header, never from a cookie
// parser's `req.cookies`, which keeps one of two same-name cookies (cookie tossing). The Node
// socket (Fastify's is `req.raw.socket`) carries the TLS client certificate (RFC 8705).
function toGuardRequest(request: JwtGuardedRequest | undefined): GuardRequest | undefined {
  const headers = request?.rawHeaders ?? request?.raw?.rawHeaders ?? request?.headers;
  if (typeof request?.method !== 'string' || headers === undefined) return undefined;
  const url = request.originalUrl ?? request.url ?? '/';
  return { method: request.method, url, headers, socket: request.raw?.socket ?? request.socket };
}

/** A controller class or a handler: where decorators put their metadata. */
type Target = ReturnType<ExecutionContext['getHandler']> | Type;

// One run per call and core guard. A global guard and `@UseGuards(JwtAuthGuard)` on a route are
// two guard instances, but Nest hands every guard of one call the same ExecutionContext, and
// both share the module's core guard; without this the second run would use up the one-time
// token that the first had just accepted. Keyed by the call, not the request object: a
// WebSocket override may return the socket, which outlives one message.
const runs = new WeakMap<ExecutionContext, Map<JwtGuard, Promise<boolean>>>();

/**
 * Verifies the access token and sets `request.auth`, then checks the requirements of the
 * controller and of the handler together. `JwtGuardModule` installs it globally unless
 * `global: false`; then use `@UseGuards(JwtAuthGuard)`. It reads HTTP requests only: for
 * GraphQL or other contexts, subclass it and override `getRequest` (and `getResponse`);
 * elsewhere it refuses with a `JwtGuardContextException`.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class GqlJwtAuthGuard extends JwtAuthGuard {
 *   override getRequest(context: ExecutionContext) {
 *     return context.getType<GqlContextType>() === 'graphql'
 *       ? GqlExecutionContext.create(context).getContext<{ req: JwtGuardedRequest }>().req
 *       : super.getRequest(context);
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

  canActivate(context: ExecutionContext): Promise<boolean> {
    let calls = runs.get(context);
    if (calls === undefined) runs.set(context, (calls = new Map<JwtGuard, Promise<boolean>>()));
    let run = calls.get(this.guard);
    if (run === undefined) calls.set(this.guard, (run = this.check(context)));
    return run;
  }

  /** The request to read the token from and to set `auth` on; HTTP only by default. */
  getRequest(context: ExecutionContext): JwtGuardedRequest | undefined {
    return context.getType() === 'http'
      ? context.switchToHttp().getRequest<JwtGuardedRequest>()
      : undefined;
  }

  /** The response that gets the `WWW-Authenticate` header; none outside HTTP by default. */
  getResponse(context: ExecutionContext): unknown {
    return context.getType() === 'http' ? context.switchToHttp().getResponse<unknown>() : undefined;
  }

  private async check(context: ExecutionContext): Promise<boolean> {
    const request = this.getRequest(context);
    // Written on every path, so an `auth` set before the guard never passes for a verified one.
    const record = (auth: AuthContext | undefined): void => {
      if (request === undefined) return;
      request.auth = auth;
      verifiedAuth.set(request, auth);
    };
    record(undefined);
    const levels = this.levels(context.getHandler(), context.getClass());
    if (levels === undefined) return true;
    const guardRequest = toGuardRequest(request);
    // Fail closed: a guard that cannot see the request must not let it through.
    if (guardRequest === undefined) throw new JwtGuardContextException(context.getType());
    try {
      const auth = await this.guard.authenticate(guardRequest);
      record(auth);
      // A fresh DPoP-Nonce (RFC 9449 §9) for the client's next proof, when nonces are on.
      this.setHeaders(context, this.guard.responseHeaders(auth));
      const defined = this.reflector.getAll(Requirements, levels).filter((r) => r !== undefined);
      // A route without requirements serves anonymous callers under credentialsRequired: false.
      if (defined.length > 0) this.guard.authorize(auth, mergeRequirements(...defined));
      // Requirements first: a refused request must not use up the token.
      const once = this.reflector.getAllAndOverride(OneTimeToken, [...levels].reverse());
      if (once !== undefined) await this.guard.consumeOnce(auth, once.scope);
      return true;
    } catch (error) {
      throw this.refusal(error, context);
    }
  }

  // The targets whose requirements apply, or none for an open route. A requirement beats
  // @Public() on its own level and above: `@Public()` on a class must not silently drop a
  // handler's `@RequireScope` (fail closed). A handler's @Public() lifts the class's ones.
  private levels(handler: Target, controller: Target): Target[] | undefined {
    const asks = (target: Target): boolean =>
      this.reflector.get(Requirements, target) !== undefined ||
      this.reflector.get(OneTimeToken, target) !== undefined;
    if (this.reflector.get(Public, handler)) return asks(handler) ? [handler] : undefined;
    if (this.reflector.get(Public, controller) && !asks(controller) && !asks(handler)) {
      return undefined;
    }
    return [controller, handler];
  }

  // Nest's HttpException carries no headers: the challenge goes on the response first, through
  // the platform's adapter (Express and Fastify alike), and then survives any exception filter.
  private refusal(error: unknown, context: ExecutionContext): unknown {
    if (!isJwtGuardError(error)) return error;
    this.setHeaders(context, error.headers);
    return new JwtGuardException(error);
  }

  private setHeaders(context: ExecutionContext, headers: Readonly<Record<string, string>>): void {
    const response = this.getResponse(context);
    const adapter = this.adapterHost.httpAdapter as typeof this.adapterHost.httpAdapter | undefined;
    if (response === undefined || adapter === undefined) return;
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
  }
}
