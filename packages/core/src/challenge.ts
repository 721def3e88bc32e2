/**
 * Attributes of a `WWW-Authenticate` challenge that come from configuration, not the request.
 *
 * @example
 * ```ts
 * const params: ChallengeParams = { realm: 'items-api', dpopAlgorithms: ['ES256'], bearer: false };
 * new JwtGuardError('ERR_TOKEN_MISSING').withChallenge(params).headers['WWW-Authenticate'];
 * // 'DPoP realm="items-api", algs="ES256"'
 * ```
 */
export interface ChallengeParams {
  /** Authentication scheme; RFC 6750 `Bearer` unless a sender-constrained scheme applies. */
  readonly scheme?: string | undefined;
  /** RFC 6750 §3 `realm`. */
  readonly realm?: string | undefined;
  /** RFC 9728 §5.1 `resource_metadata` URL. */
  readonly resourceMetadata?: string | undefined;
  /** RFC 9449 §7.1: when DPoP is accepted, the proof algorithms (a `DPoP` challenge is added). */
  readonly dpopAlgorithms?: readonly string[] | undefined;
  /** `false` when only DPoP-bound tokens are accepted: no `Bearer` challenge. */
  readonly bearer?: boolean | undefined;
}

/**
 * Everything a single challenge can carry.
 *
 * @example
 * ```ts
 * const input: ChallengeInput = { realm: 'api', error: 'insufficient_scope', scope: ['admin'] };
 * buildChallenge(input); // 'Bearer realm="api", error="insufficient_scope", scope="admin"'
 * ```
 */
export interface ChallengeInput extends ChallengeParams {
  readonly error?: string | undefined;
  readonly errorDescription?: string | undefined;
  readonly scope?: readonly string[] | undefined;
  /** RFC 9470 §3 step-up: acceptable authentication context classes. */
  readonly acrValues?: readonly string[] | undefined;
  /** RFC 9470 §3 step-up: the largest acceptable authentication age, in seconds. */
  readonly maxAgeSeconds?: number | undefined;
  /** RFC 9449 §7.1 `algs` of a `DPoP` challenge. */
  readonly algs?: readonly string[] | undefined;
}

// RFC 9110 §5.6.4 quoted-string: escape the two characters that would end or break it.
// Control characters (CR, LF) can never come in: every input is configuration validated at
// construction or a fixed text, and this strips them all the same.
function quote(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[\u0000-\u001f\u007f]/g, '').replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Builds an RFC 6750 §3 `WWW-Authenticate` value. The one place in the project that
 * writes a challenge; adapters only copy `error.headers`.
 *
 * @example
 * ```ts
 * buildChallenge({ error: 'insufficient_scope', scope: ['read:items'] });
 * // 'Bearer error="insufficient_scope", scope="read:items"'
 * ```
 */
export function buildChallenge(input: ChallengeInput): string {
  const parts: string[] = [];
  if (input.realm !== undefined) parts.push(`realm=${quote(input.realm)}`);
  // RFC 6750 §3.1: no error attribute when the request carried no credentials.
  if (input.error !== undefined) parts.push(`error=${quote(input.error)}`);
  if (input.errorDescription !== undefined) {
    parts.push(`error_description=${quote(input.errorDescription)}`);
  }
  if (input.scope !== undefined && input.scope.length > 0) {
    parts.push(`scope=${quote(input.scope.join(' '))}`);
  }
  if (input.acrValues !== undefined && input.acrValues.length > 0) {
    parts.push(`acr_values=${quote(input.acrValues.join(' '))}`);
  }
  if (input.maxAgeSeconds !== undefined) {
    parts.push(`max_age=${quote(String(input.maxAgeSeconds))}`);
  }
  if (input.algs !== undefined && input.algs.length > 0) {
    parts.push(`algs=${quote(input.algs.join(' '))}`);
  }
  if (input.resourceMetadata !== undefined) {
    parts.push(`resource_metadata=${quote(input.resourceMetadata)}`);
  }
  const scheme = input.scheme ?? 'Bearer';
  return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
}
