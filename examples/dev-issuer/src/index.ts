export { createDevIssuer, type DevIssuer, type MintOverrides } from './issuer.js';
export { DEFAULT_AUDIENCE, type DevIssuerOptions } from './options.js';
export { DEFAULT_DEV_CLIENTS, type DevClient } from './clients.js';
export type { DevSigningAlgorithm } from './keys.js';
export { DevIssuerError, type OAuthErrorBody, type OAuthErrorCode } from './errors.js';
export type { TokenResponse } from './grant.js';
export type { IssuerMetadata } from './metadata.js';
