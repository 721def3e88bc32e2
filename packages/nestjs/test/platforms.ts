import type { Server } from 'node:http';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { KeyInput } from '@jwt-guard/core';
import {
  createTestClock,
  createTokenFactory,
  testKeys,
  type ConformanceTls,
  type TestClock,
} from '@jwt-guard/testkit';

/** The HTTP platforms every Nest test runs on. */
export const PLATFORMS = ['express', 'fastify'] as const;
export type Platform = (typeof PLATFORMS)[number];

/**
 * A Nest application of `imports` and `controllers` on one platform, initialized and ready to
 * serve; its HTTP server does not listen yet (supertest or the conformance runner does that).
 * With `httpsOptions`, it serves HTTPS the way each platform is told to: Nest's `httpsOptions`
 * on Express, the adapter's `https` on Fastify.
 */
export async function createNestApp(
  platform: Platform,
  imports: (Type | DynamicModule)[],
  configure: (app: INestApplication<Server>) => void = () => {},
  controllers: Type[] = [],
  httpsOptions?: ConformanceTls,
): Promise<INestApplication<Server>> {
  const moduleRef = await Test.createTestingModule({ imports, controllers }).compile();
  const adapter =
    platform === 'express'
      ? new ExpressAdapter()
      : new FastifyAdapter(httpsOptions === undefined ? {} : { https: httpsOptions });
  const app = moduleRef.createNestApplication<INestApplication<Server>>(adapter, {
    logger: false,
    ...(platform === 'express' && httpsOptions !== undefined ? { httpsOptions } : {}),
  });
  configure(app);
  await app.init();
  // Fastify registers its routes when ready; without it the raw server answers 404.
  if (platform === 'fastify') {
    await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
  }
  return app;
}

/** Guard options over a static ES256 key and a frozen clock, and tokens they accept. */
export function staticFixture(): {
  readonly options: { issuer: string; audience: string; keys: KeyInput; clock: TestClock };
  readonly clock: TestClock;
  token(claims?: Record<string, unknown>): string;
} {
  const keys = testKeys();
  const clock = createTestClock();
  const issuer = 'https://idp.example/';
  const audience = 'https://api.example/';
  const mint = createTokenFactory({ issuer, audience, clock });
  return {
    options: { issuer, audience, keys: keys.ES256.jwk, clock },
    clock,
    token: (claims = {}) => mint.sign(keys.ES256, claims),
  };
}
