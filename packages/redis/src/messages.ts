import type { Revocation } from './keys.js';

/** The text published on the revocation channel. */
export function encodeRevocation(revocation: Revocation): string {
  return JSON.stringify(revocation);
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value !== '';

/**
 * Reads a published revocation; `undefined` for anything else on the channel, which is
 * ignored rather than trusted (another program may publish there).
 */
export function decodeRevocation(message: string): Revocation | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (typeof r.expiryMs !== 'number' || !Number.isFinite(r.expiryMs)) return undefined;
  if (r.kind === 'token' && nonEmpty(r.jti)) {
    return { kind: 'token', jti: r.jti, expiryMs: r.expiryMs };
  }
  if (
    r.kind === 'subject' &&
    nonEmpty(r.sub) &&
    (r.iss === undefined || nonEmpty(r.iss)) &&
    typeof r.issuedBeforeMs === 'number' &&
    Number.isFinite(r.issuedBeforeMs)
  ) {
    return {
      kind: 'subject',
      sub: r.sub,
      iss: r.iss,
      issuedBeforeMs: r.issuedBeforeMs,
      expiryMs: r.expiryMs,
    };
  }
  return undefined;
}
