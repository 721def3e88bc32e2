import { readFileSync } from 'node:fs';

// Jest runs in CommonJS mode (no --experimental-vm-modules): @swc/jest compiles TypeScript and
// the ESM-only dependencies (jose, @nestjs/* 12) to CommonJS. swc does not type-check: that is
// `pnpm typecheck`.

/** @param {'typescript' | 'ecmascript'} syntax */
const swc = (syntax) => [
  '@swc/jest',
  {
    swcrc: false,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: {
      target: 'es2022',
      keepClassNames: true,
      parser: syntax === 'typescript' ? { syntax, decorators: true } : { syntax },
      transform: { legacyDecorator: true, decoratorMetadata: true },
    },
  },
];

// Packages shipped as ESM only. pnpm stores them under
// node_modules/.pnpm/<name>@<version>/node_modules/<name>/, so the optional prefix is allowed.
const esmOnly = ['jose', '@nestjs', 'oidc-provider'];

/** @type {import('jest').Config} */
const base = {
  rootDir: import.meta.dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/examples/*/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  transform: {
    '^.+\\.ts$': swc('typescript'),
    '^.+\\.m?js$': swc('ecmascript'),
  },
  transformIgnorePatterns: [
    `/node_modules/(?!(?:\\.pnpm/[^/]+/node_modules/)?(?:${esmOnly.join('|')})/)`,
  ],
  moduleNameMapper: {
    '^@jwt-guard/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
    '^@jwt-guard/testkit/jest$': '<rootDir>/packages/testkit/src/jest.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
};

// The NestJS adapter's tests run twice: on the workspace's Nest 11, and on the Nest 12 of the
// test-only package packages/nestjs-compat-12 (two Nest versions linked into one workspace give
// two @nestjs/core copies and break DI, so Nest 12 is reached by mapping instead).
const nest12 = '<rootDir>/packages/nestjs-compat-12/node_modules/@nestjs/$1';

// The Express and Koa adapters' tests run twice too: on the workspace's Express 5 and Koa 3, and
// on the oldest versions their peer ranges claim, held by the test-only package
// packages/compat-legacy (mapped like Nest 12, so the workspace links one version of each).
// `express/package.json` and the like map too, so a test can check which version it runs on.
const legacy = '<rootDir>/packages/compat-legacy/node_modules';
/** @param {string} path @param {string} name */
const pinned = (path, name) =>
  JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')).devDependencies[name];

/** @type {import('jest').Config} */
export default {
  // A global option: Jest ignores it inside a project's configuration (the default 5 s would
  // apply there, too short for the suites that start servers on a busy machine).
  testTimeout: 20000,
  projects: [
    {
      ...base,
      displayName: 'main',
      globals: {
        NEST_MAJOR: 11,
        EXPRESS_VERSION: pinned('./packages/express/package.json', 'express'),
        KOA_VERSION: pinned('./packages/koa/package.json', 'koa'),
      },
    },
    {
      ...base,
      displayName: 'nest-12',
      globals: { NEST_MAJOR: 12 },
      testMatch: ['<rootDir>/packages/nestjs/test/**/*.test.ts'],
      moduleNameMapper: { '^@nestjs/(.*)$': nest12, ...base.moduleNameMapper },
    },
    {
      ...base,
      displayName: 'express-4-koa-2',
      globals: {
        EXPRESS_VERSION: pinned('./packages/compat-legacy/package.json', 'express'),
        KOA_VERSION: pinned('./packages/compat-legacy/package.json', 'koa'),
      },
      testMatch: [
        '<rootDir>/packages/express/test/**/*.test.ts',
        '<rootDir>/packages/koa/test/**/*.test.ts',
      ],
      moduleNameMapper: {
        '^express(/.*)?$': `${legacy}/express$1`,
        '^koa(/.*)?$': `${legacy}/koa$1`,
        ...base.moduleNameMapper,
      },
    },
  ],
};
