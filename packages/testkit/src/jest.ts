// Scenario suites that call Jest's own `describe`, `it` and `expect`: an entry point of their
// own, so that the main one loads outside Jest (benchmarks, scripts) without `@jest/globals`.
export { serveEach } from './serve-each.js';
export { createInteropEnv, interopTests, type InteropEnv, type InteropHarness } from './interop.js';
export { mtlsTests, type MtlsHarness, type RefusalMembers } from './mtls.js';
export {
  ordersApiTests,
  type OrdersApiHarness,
  type OrdersAppOptions,
  type OrdersIssuer,
} from './orders-api.js';
export {
  RESOURCE_METADATA,
  resourceMetadataDocumentTests,
  resourceMetadataMiddlewareTests,
  type ResourceMetadataMiddlewareHarness,
  type ResourceMetadataServe,
} from './resource-metadata.js';
export {
  dpopRequestHeaders,
  STEP_UP_DPOP,
  stepUpDpopTests,
  type StepUpDpopHarness,
} from './step-up-dpop.js';
