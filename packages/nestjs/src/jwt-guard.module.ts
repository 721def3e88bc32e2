import {
  ConfigurableModuleBuilder,
  Global,
  Module,
  type ConfigurableModuleAsyncOptions,
  type OnModuleInit,
  type Provider,
} from '@nestjs/common';
import { APP_GUARD, HttpAdapterHost } from '@nestjs/core';
import { createGuard, createResourceMetadataHandler, type GuardOptions } from '@jwt-guard/core';
import { JwtAuthGuard } from './jwt-auth.guard.js';
import { InjectJwtGuard, JwtGuard } from './jwt-guard.token.js';

/**
 * What the module adds to the guard options.
 *
 * @example
 * ```ts
 * JwtGuardModule.forRoot({ issuer, audience, global: false }); // then @UseGuards(JwtAuthGuard)
 * ```
 */
export interface JwtGuardModuleExtras {
  /**
   * `true` (default): `JwtAuthGuard` guards every route (`APP_GUARD`); open routes say
   * `@Public()`. `false`: only where `@UseGuards(JwtAuthGuard)` says so.
   */
  readonly global?: boolean;
}

const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } =
  new ConfigurableModuleBuilder<GuardOptions>({ moduleName: 'JwtGuard' })
    .setClassMethodName('forRoot')
    .setExtras<JwtGuardModuleExtras>({ global: true }, (definition, extras) => ({
      ...definition,
      providers: [
        ...(definition.providers ?? []),
        ...(extras.global === false ? [] : [{ provide: APP_GUARD, useClass: JwtAuthGuard }]),
      ],
    }))
    .build();

/**
 * Options of `JwtGuardModule.forRoot`: the guard options of core, plus `global`.
 *
 * @example
 * ```ts
 * const options: JwtGuardModuleOptions = {
 *   issuer: 'https://idp.example/',
 *   audience: 'https://api.example/',
 *   global: false,
 * };
 * @Module({ imports: [JwtGuardModule.forRoot(options)] })
 * export class AppModule {}
 * ```
 */
export type JwtGuardModuleOptions = GuardOptions & JwtGuardModuleExtras;
/**
 * Options of `JwtGuardModule.forRootAsync`: `imports`, `inject`, `useFactory` (or a class),
 * `global`.
 *
 * @example
 * ```ts
 * const options: JwtGuardModuleAsyncOptions = {
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({
 *     issuer: config.getOrThrow('ISSUER_URL'),
 *     audience: config.getOrThrow('AUDIENCE'),
 *   }),
 * };
 * @Module({ imports: [JwtGuardModule.forRootAsync(options)] })
 * export class AppModule {}
 * ```
 */
export type JwtGuardModuleAsyncOptions = ConfigurableModuleAsyncOptions<GuardOptions> &
  JwtGuardModuleExtras;

const guardProvider: Provider = {
  provide: JwtGuard,
  // Options are validated here, once: a mistake stops the application at startup.
  useFactory: (options: GuardOptions) => createGuard(options),
  inject: [MODULE_OPTIONS_TOKEN],
};

/**
 * Verifies JWT access tokens on every route (or on those with `@UseGuards(JwtAuthGuard)` when
 * `global: false`). The module is global, so the guard and `JwtGuard` reach every module. With
 * the `resourceMetadata` option it also serves the RFC 9728 document, to anyone, at
 * `/.well-known/oauth-protected-resource…` (GET and HEAD, outside any global prefix).
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     JwtGuardModule.forRootAsync({
 *       inject: [ConfigService],
 *       useFactory: (config: ConfigService) => ({
 *         issuer: config.getOrThrow('ISSUER_URL'),
 *         audience: config.getOrThrow('AUDIENCE'),
 *       }),
 *     }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Global()
@Module({ providers: [guardProvider], exports: [JwtGuard] })
export class JwtGuardModule extends ConfigurableModuleClass implements OnModuleInit {
  constructor(
    @InjectJwtGuard() private readonly guard: JwtGuard,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    super();
  }

  // A Node middleware of the HTTP adapter (Express, or Fastify's middie): it runs before any
  // guard and outside the global prefix, since RFC 9728 §3.1 puts the document at the root.
  // Registered after the routes (on Express): only a request no route took reaches it.
  onModuleInit(): void {
    const metadata = this.guard.resourceMetadata;
    const adapter = this.adapterHost.httpAdapter as typeof this.adapterHost.httpAdapter | undefined;
    if (metadata === undefined || adapter === undefined) return;
    adapter.use(createResourceMetadataHandler(metadata));
  }
}
