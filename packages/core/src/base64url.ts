const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

/**
 * Decodes RFC 4648 §5 base64url strictly: only the URL-safe alphabet, no padding, no
 * whitespace, no impossible length, and zero unused bits in the last character (RFC 4648
 * §3.5), so each byte string has exactly one accepted encoding. Node's own decoder accepts
 * all of these and silently skips what it does not understand.
 *
 * @example
 * ```ts
 * decodeBase64Url('Zm9v');  // Buffer 'foo'
 * decodeBase64Url('Zm9v='); // undefined
 * ```
 */
export function decodeBase64Url(text: string): Buffer | undefined {
  const length = text.length;
  const rest = length % 4;
  if (rest === 1) return undefined;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code > 127 || VALUES[code] === -1) return undefined;
  }
  if (rest !== 0) {
    const last = VALUES[text.charCodeAt(length - 1)] as number;
    // Two trailing characters carry 4 unused bits, three carry 2.
    if ((rest === 2 && (last & 0x0f) !== 0) || (rest === 3 && (last & 0x03) !== 0))
      return undefined;
  }
  return Buffer.from(text, 'base64url');
}
