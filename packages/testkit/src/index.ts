export {
  ALL_ALGORITHMS,
  ASYMMETRIC_ALGORITHMS,
  createTestKey,
  jwksOf,
  testKeys,
  type TestAlgorithm,
  type TestKey,
} from './keys.js';
export { createTestClock, type TestClock } from './clock.js';
export {
  accessTokenClaims,
  b64url,
  createTokenFactory,
  replaceSegment,
  signBytes,
  signJwt,
  signRaw,
  type AccessTokenClaimsInput,
  type SignOptions,
  type TokenFactory,
} from './tokens.js';
export { createStaticFixture, type StaticFixture } from './static-fixture.js';
export {
  startKeyServer,
  type KeyServer,
  type KeyServerFault,
  type KeyServerOptions,
} from './server.js';
export { bearerRequest, refusalOf, refusalOfSync, type Refusal } from './refusal.js';
export { createEventRecorder, type EventRecorder } from './events.js';
export {
  listenOnLoopback,
  sendRequest,
  type LoopbackServer,
  type TestRequest,
  type TestResponse,
} from './http.js';
export {
  findWycheproofVectors,
  loadWycheproofJws,
  loadWycheproofSignatures,
  type WycheproofJwsCase,
  type WycheproofResult,
  type WycheproofSignatureCase,
  type WycheproofSignatureGroup,
} from './wycheproof.js';
export {
  CONFORMANCE_ROUTES,
  conformanceBody,
  conformanceCases,
  createConformanceEnv,
  renderConformanceError,
  runConformanceCase,
  type ConformanceCase,
  type ConformanceCertificates,
  type ConformanceEnv,
  type ConformanceEnvOptions,
  type ConformanceExpectation,
  type ConformanceHarness,
  type ConformanceRequest,
  type ConformanceRoute,
  type ConformanceRule,
  type ConformanceStep,
  type ConformanceStore,
  type ConformanceTarget,
  type ConformanceTls,
} from './conformance.js';
export {
  findRedis,
  freePorts,
  hasRedisServer,
  startRedisCluster,
  startRedisSentinel,
  startRedisServer,
  uniqueKeyPrefix,
  waitUntil,
  type RedisClusterProcess,
  type RedisSentinelProcess,
  type RedisServerProcess,
} from './redis.js';
export { startJsonLineProcess, type JsonLineProcess } from './process.js';
export {
  createDpopKey,
  createDpopProof,
  dpopAth,
  type DpopAlgorithm,
  type DpopKey,
  type DpopProofInput,
  type DpopProofMember,
} from './dpop.js';
export {
  createLocalhostCertificates,
  createTestCertificate,
  type TestCertificate,
  type TestCertificateOptions,
} from './certificates.js';
export {
  startAuthorizationServer,
  type AuthorizationServer,
  type AuthorizationServerClient,
  type AuthorizationServerOptions,
  type IssuedToken,
  type TokenRequest,
} from './authorization-server.js';
export { listenApp, type TestApp } from './app.js';
