import type { Server } from 'node:http';
import {
  applyDecorators,
  Catch,
  Controller,
  Delete,
  Get,
  HttpCode,
  Post,
  type ArgumentsHost,
  type ExceptionFilter,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { createMemoryStore, type AuthContext, type GuardOptions } from '@jwt-guard/core';
import {
  Auth,
  JwtGuardException,
  JwtGuardModule,
  OneTimeToken,
  Public,
  RequireAcr,
  RequireAnyScope,
  RequireAuthAge,
  RequireClaim,
  RequireDpop,
  RequireScope,
} from '@jwt-guard/nestjs';
import {
  CONFORMANCE_ROUTES,
  conformanceBody,
  conformanceCases,
  createConformanceEnv,
  renderConformanceError,
  runConformanceCase,
  type ConformanceHarness,
  type ConformanceRule,
} from '@jwt-guard/testkit';
import { createNestApp, PLATFORMS, type Platform } from './platforms.js';

function decoratorsOf(rule: ConformanceRule): MethodDecorator[] {
  switch (rule.kind) {
    case 'public':
      return [Public()];
    case 'authenticated':
      return [];
    case 'allScopes':
      return [RequireScope(...rule.scopes)];
    case 'anyScope':
      return [RequireAnyScope(...rule.scopes)];
    case 'claim':
      return [RequireClaim(rule.claim, rule.value)];
    case 'oneTime':
      return [OneTimeToken()];
    case 'dpop':
      return [RequireDpop()];
    case 'acr':
      return [RequireAcr(...rule.values)];
    case 'authAge':
      return [RequireAuthAge(rule.maxAgeSeconds)];
  }
}

const VERBS = { GET: Get, POST: Post, DELETE: Delete };

// CONFORMANCE_ROUTES as handlers of one controller, each decorated as a user would write it:
// `@Get(path) @HttpCode(200) @RequireScope(...) route(@Auth() auth) {}` (Nest answers a POST
// with 201 by default; the matrix expects 200 everywhere).
function conformanceController(): Type {
  @Controller()
  class ConformanceController {}
  const prototype = ConformanceController.prototype as Record<string, unknown>;
  for (const [index, { method, path, rule }] of CONFORMANCE_ROUTES.entries()) {
    const name = `route${index}`;
    const { [name]: handler } = {
      [name]: (auth: AuthContext | undefined) => conformanceBody(auth),
    };
    prototype[name] = handler;
    Auth()(prototype, name, 0);
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name) as PropertyDescriptor;
    applyDecorators(VERBS[method](path), HttpCode(200), ...decoratorsOf(rule))(
      prototype,
      name,
      descriptor,
    );
  }
  return ConformanceController;
}

// The matrix's one app-level error handler, as in every harness; it renders the core error
// that a JwtGuardException carries.
@Catch()
class RenderConformanceError implements ExceptionFilter {
  constructor(private readonly app: INestApplication<Server>) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const error = exception instanceof JwtGuardException ? exception.cause : exception;
    const { status, headers, body } = renderConformanceError(error);
    const adapter = this.app.getHttpAdapter();
    const response: unknown = host.switchToHttp().getResponse();
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
    adapter.reply(response, body, status);
  }
}

// The matrix sends its POSTs with an empty chunked body and no Content-Type (Node's client
// does that for a POST without data); Fastify answers such a request 415 while parsing, before
// any guard runs. A catch-all parser lets it reach the guard, as Express does.
function acceptAnyBody(app: INestApplication<Server>): void {
  const fastify = app.getHttpAdapter().getInstance() as {
    addContentTypeParser(
      type: string,
      parse: (req: unknown, body: unknown, done: () => void) => void,
    ): void;
  };
  fastify.addContentTypeParser('*', (_req, _body, done) => done());
}

function harness(platform: Platform): ConformanceHarness {
  return {
    name: `nestjs (${platform})`,
    async createServer(options, tls) {
      const app = await createNestApp(
        platform,
        [JwtGuardModule.forRoot(options as unknown as GuardOptions)],
        (nest) => {
          nest.useGlobalFilters(new RenderConformanceError(nest));
          if (platform === 'fastify') acceptAnyBody(nest);
        },
        [conformanceController()],
        tls,
      );
      return app.getHttpServer();
    },
  };
}

const env = createConformanceEnv({ createStore: (clock) => createMemoryStore({ clock }) });
beforeAll(() => env.start());
afterAll(() => env.close());

describe.each(PLATFORMS)('nestjs conformance on %s', (platform) => {
  it.each(conformanceCases(env))('$name', (row) => runConformanceCase(harness(platform), row));
});
