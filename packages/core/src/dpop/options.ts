import { ALGORITHMS, DEFAULT_ALGORITHMS, isAlgorithm, type Algorithm } from '../algorithms.js';
import { ConfigurationError } from '../errors.js';
import type { OriginPolicy } from './htu.js';
import { createNonceSource, type NonceSource } from './nonce.js';

/**
 * DPoP (RFC 9449) settings of a guard.
 *
 * @example
 * ```ts
 * createGuard({ issuer, audience, dpop: { mode: 'allowed', origin: 'https://api.example' } });
 * ```
 */
export interface DpopOptions {
  /**
   * `allowed` (default): DPoP-bound tokens need a valid proof, plain bearer tokens still pass.
   * `required`: every token must be DPoP-bound and come with a proof.
   */
  readonly mode?: 'allowed' | 'required';
  /** The public origin(s) clients put in `htu`, e.g. `https://api.example`. */
  readonly origin?: string | readonly string[];
  /**
   * Take the origin from `X-Forwarded-Proto` and `X-Forwarded-Host` instead of `origin`. Only
   * behind a proxy that always sets both and drops what clients send.
   */
  readonly trustProxy?: boolean;
  /** Proof algorithms accepted; default every asymmetric one (never HS* or `none`). */
  readonly algorithms?: readonly Algorithm[];
  /** How old a proof's `iat` may be; default 60. The guard's clock tolerance applies too. */
  readonly proofMaxAgeSeconds?: number;
  /**
   * Server nonces (RFC 9449 §9): a secret of at least 32 bytes shared by every instance of a
   * fleet, and how often the nonce changes (default 300 s).
   */
  readonly nonce?: { readonly secret: string | Uint8Array; readonly rotationSeconds?: number };
}

/**
 * DPoP settings after validation.
 *
 * @example
 * ```ts
 * const policy: DpopPolicy = resolveDpopOptions({
 *   mode: 'required',
 *   origin: 'https://api.example',
 * });
 * policy.required; // true
 * policy.origin; // { origins: ['https://api.example'] }
 * policy.proofMaxAgeSeconds; // 60
 * ```
 */
export interface DpopPolicy {
  readonly required: boolean;
  readonly origin: OriginPolicy;
  readonly algorithms: readonly Algorithm[];
  readonly proofMaxAgeSeconds: number;
  readonly nonces: NonceSource | undefined;
}

const KNOWN = ['mode', 'origin', 'trustProxy', 'algorithms', 'proofMaxAgeSeconds', 'nonce'];
const MIN_SECRET_BYTES = 32;

function fail(message: string): never {
  throw new ConfigurationError(`"dpop": ${message}`);
}

function originList(value: unknown): readonly string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    fail('"origin" must be the public origin clients call, e.g. "https://api.example"');
  }
  return Object.freeze(
    (list as unknown[]).map((origin) => {
      let url: URL | undefined;
      try {
        url = typeof origin === 'string' ? new URL(origin) : undefined;
      } catch {
        url = undefined;
      }
      if (
        url === undefined ||
        (url.protocol !== 'https:' && url.protocol !== 'http:') ||
        url.pathname !== '/' ||
        url.search !== '' ||
        url.hash !== '' ||
        url.username !== '' ||
        url.password !== ''
      ) {
        fail(
          `"origin": ${JSON.stringify(origin)} is not an origin; give scheme, host and port only, e.g. "https://api.example"`,
        );
      }
      return url.origin;
    }),
  );
}

/**
 * Validates `dpop` options once, at construction.
 *
 * @example
 * ```ts
 * const policy = resolveDpopOptions({ origin: 'https://api.example' });
 * ```
 */
export function resolveDpopOptions(options: DpopOptions): DpopPolicy {
  if (typeof options !== 'object' || options === null) {
    fail('pass an object such as { origin: "https://api.example" }');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) fail(`unknown option "${key}"; use one of ${KNOWN.join(', ')}`);
  }
  const mode = options.mode ?? 'allowed';
  if (mode !== 'allowed' && mode !== 'required') fail('"mode" must be "allowed" or "required"');
  if (options.trustProxy !== undefined && typeof options.trustProxy !== 'boolean') {
    fail('"trustProxy" must be true or false');
  }
  let origin: OriginPolicy;
  if (options.trustProxy === true) {
    if (options.origin !== undefined) fail('give either "origin" or "trustProxy", not both');
    origin = { trustProxy: true };
  } else {
    if (options.origin === undefined) {
      fail(
        '"origin" is required: the public origin clients put in the proof\'s htu, e.g. "https://api.example" (or trustProxy: true behind a proxy that sets X-Forwarded-Proto and X-Forwarded-Host)',
      );
    }
    origin = { origins: originList(options.origin) };
  }
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    fail('"algorithms" must be a non-empty array of asymmetric algorithm names');
  }
  for (const alg of algorithms as unknown[]) {
    if (!isAlgorithm(alg) || ALGORITHMS[alg].family === 'HMAC') {
      fail(
        `"algorithms": ${JSON.stringify(alg)} is not an asymmetric algorithm; a proof is signed with the client's private key`,
      );
    }
  }
  const maxAge = options.proofMaxAgeSeconds ?? 60;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge < 1 || maxAge > 3600) {
    fail('"proofMaxAgeSeconds" must be a number of seconds between 1 and 3600');
  }
  return Object.freeze({
    required: mode === 'required',
    origin,
    algorithms: Object.freeze([...new Set(algorithms)]),
    proofMaxAgeSeconds: maxAge,
    nonces: options.nonce === undefined ? undefined : nonceOption(options.nonce),
  });
}

function nonceOption(nonce: NonceOptions): NonceSource {
  if (typeof nonce !== 'object' || nonce === null) {
    fail('"nonce" must be { secret, rotationSeconds? }');
  }
  const secret =
    typeof nonce.secret === 'string' ? Buffer.from(nonce.secret, 'utf8') : nonce.secret;
  if (!(secret instanceof Uint8Array) || secret.length < MIN_SECRET_BYTES) {
    fail(
      `"nonce.secret" must be at least ${MIN_SECRET_BYTES} bytes, e.g. crypto.randomBytes(32), the same on every instance of a fleet`,
    );
  }
  const rotation = nonce.rotationSeconds ?? 300;
  if (typeof rotation !== 'number' || !Number.isFinite(rotation) || rotation < 10) {
    fail('"nonce.rotationSeconds" must be a number of seconds ≥ 10');
  }
  return createNonceSource(Uint8Array.from(secret), rotation);
}

type NonceOptions = NonNullable<DpopOptions['nonce']>;
