export { createGuard, type Guard, type VerifyOptions } from './guard.js';
export type { AudienceOption, GuardOptions, IssuerOptions, JwksOptions } from './options.js';
export type { DpopOptions } from './dpop/options.js';
export type { MtlsOptions } from './mtls.js';
export {
  createResourceMetadataHandler,
  isResourceMetadataRequest,
  type ResourceMetadata,
  type ResourceMetadataHandler,
  type ResourceMetadataOptions,
} from './metadata.js';
export type { AuthContext } from './context.js';
export type { AccessTokenClaims, Claims, RegisteredClaims } from './claims.js';
export {
  ConfigurationError,
  ERROR_CODES,
  JwtGuardError,
  describeError,
  isJwtGuardError,
  type BearerErrorCode,
  type ErrorCode,
} from './errors.js';
export { buildChallenge, type ChallengeInput, type ChallengeParams } from './challenge.js';
export {
  checkRequirement,
  claimCondition,
  defineRequirement,
  mergeRequirements,
  type ClaimCondition,
  type ClaimPredicate,
  type ClaimValue,
  type Requirement,
  type RequirementSpec,
} from './requirements.js';
export { readScopes, type ScopeClaim } from './scopes.js';
export { createRouteChecks, type RouteCheck, type RouteChecks } from './route-checks.js';
export { extractToken, type ExtractionPolicy, type TokenLocation } from './extract.js';
export {
  headerValues,
  type GuardRequest,
  type HeadersInput,
  type PeerCertificateSource,
} from './request.js';
export { DEFAULT_ALGORITHMS, isAlgorithm, type Algorithm } from './algorithms.js';
export { createJwsVerifier, type VerifiedJws } from './jws.js';
export { createStaticKeySource, type JsonWebKeySet, type KeyInput } from './keys/static.js';
export type { KeySource } from './keys/source.js';
export type { VerificationKey } from './keys/key.js';
export type { Clock } from './clock.js';
export {
  createMemoryStore,
  checkInstant,
  instantMs,
  type Instant,
  type MemoryStoreOptions,
  type MemoryTokenStore,
  type TokenStore,
} from './store.js';
export type {
  GuardEvent,
  KeySkippedEvent,
  KeysRefreshFailedEvent,
  KeysRefreshedEvent,
  StoreUnavailableEvent,
  TokenAcceptedEvent,
  TokenRejectedEvent,
} from './events.js';
