const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

const SEGMENT = /^[A-Za-z0-9_-]*$/;

/**
 * Whether a string is canonical RFC 4648 §5 base64url: only the URL-safe alphabet, no
 * padding, no whitespace, no impossible length, and zero unused bits in the last character
 * (RFC 4648 §3.5), so each byte string has exactly one accepted encoding. Node's own decoder
 * accepts all of these and silently skips what it does not understand.
 *
 * @example
 * ```ts
 * isCanonicalBase64Url('Zm9v');  // true
 * isCanonicalBase64Url('Zm9v='); // false
 * ```
 */
export function isCanonicalBase64Url(text: string): boolean {
  return SEGMENT.test(text) && hasCanonicalEnd(text, 0, text.length);
}

/**
 * The length and last-character rules of canonical base64url for `text[start, end)`, whose
 * characters the caller already matched against the alphabet.
 */
export function hasCanonicalEnd(text: string, start: number, end: number): boolean {
  const rest = (end - start) % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = VALUES[text.charCodeAt(end - 1)] as number;
  // Two trailing characters carry 4 unused bits, three carry 2.
  return rest === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

/**
 * Decodes canonical base64url, or returns `undefined` for anything else.
 *
 * @example
 * ```ts
 * decodeBase64Url('Zm9v'); // Buffer 'foo'
 * ```
 */
export function decodeBase64Url(text: string): Buffer | undefined {
  return isCanonicalBase64Url(text) ? Buffer.from(text, 'base64url') : undefined;
}
