import type { RevocationTarget } from './keys.js';

/**
 * The text published on the revocation channel: what was revoked, never until when. A
 * message is only a hint to read that key; its lifetime comes from Redis.
 *
 * @example
 * ```ts
 * encodeTarget({ kind: 'token', jti: 'a1', iss: undefined }); // '{"kind":"token","jti":"a1"}'
 * ```
 */
export function encodeTarget(target: RevocationTarget): string {
  return target.kind === 'token'
    ? JSON.stringify({ kind: 'token', jti: target.jti, iss: target.iss })
    : JSON.stringify({ kind: 'subject', sub: target.sub, iss: target.iss });
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value !== '';

/**
 * Reads the target of a published message; `undefined` for anything else on the channel.
 * Fields besides the target (an `expiryMs`, an `issuedBeforeMs`, as an older version sent)
 * are ignored: anyone allowed to PUBLISH could have written them.
 *
 * @example
 * ```ts
 * decodeTarget('{"kind":"token","jti":"a1","expiryMs":0}'); // { kind: 'token', jti: 'a1' }
 * decodeTarget('hello'); // undefined
 * ```
 */
export function decodeTarget(message: string): RevocationTarget | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  if (m.iss !== undefined && !nonEmpty(m.iss)) return undefined;
  if (m.kind === 'token' && nonEmpty(m.jti)) return { kind: 'token', jti: m.jti, iss: m.iss };
  if (m.kind === 'subject' && nonEmpty(m.sub)) return { kind: 'subject', sub: m.sub, iss: m.iss };
  return undefined;
}
