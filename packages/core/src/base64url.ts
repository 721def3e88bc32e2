const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
// Value of each ASCII character; -1 outside the URL-safe alphabet. A -1 shifted into a
// quantum makes it negative, which is how a bad character is caught without a branch.
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

/**
 * Decodes `text[start, end)` as canonical RFC 4648 §5 base64url, or returns `undefined`: only
 * the URL-safe alphabet, no padding, no whitespace, no impossible length (4n + 1), and zero
 * unused bits in the last character (RFC 4648 §3.5), so each byte string has exactly one
 * accepted encoding. Node's own decoder accepts all of these, silently skipping what it does
 * not understand; next to a signature check it is also about three times slower than this
 * loop, which validates and decodes in one pass.
 *
 * @example
 * ```ts
 * decodeBase64Url('Zm9v');  // Buffer 'foo'
 * decodeBase64Url('Zm9v='); // undefined
 * decodeBase64Url('a.Zm9v.b', 2, 6); // Buffer 'foo'
 * ```
 */
export function decodeBase64Url(
  text: string,
  start = 0,
  end: number = text.length,
): Buffer | undefined {
  const length = end - start;
  const rest = length & 3;
  if (rest === 1) return undefined;
  const out = Buffer.allocUnsafe((length * 3) >> 2);
  // Every character code is or-ed into `codes` (anything ≥ 128 is outside the table) and
  // every quantum into `quanta` (negative once a character was not in the alphabet).
  let codes = 0;
  let quanta = 0;
  let o = 0;
  let i = start;
  for (const full = end - rest; i < full; i += 4) {
    const a = text.charCodeAt(i);
    const b = text.charCodeAt(i + 1);
    const c = text.charCodeAt(i + 2);
    const d = text.charCodeAt(i + 3);
    codes |= a | b | c | d;
    const n =
      ((VALUES[a] as number) << 18) |
      ((VALUES[b] as number) << 12) |
      ((VALUES[c] as number) << 6) |
      (VALUES[d] as number);
    quanta |= n;
    out[o++] = n >> 16;
    out[o++] = n >> 8;
    out[o++] = n;
  }
  if (rest !== 0) {
    const a = text.charCodeAt(i);
    const b = text.charCodeAt(i + 1);
    const c = rest === 3 ? text.charCodeAt(i + 2) : 0x41; // 'A', worth 0
    codes |= a | b | c;
    const n =
      ((VALUES[a] as number) << 18) | ((VALUES[b] as number) << 12) | ((VALUES[c] as number) << 6);
    // Two trailing characters carry 4 unused bits, three carry 2; canonical means zeros.
    if ((rest === 2 ? n & 0xffff : n & 0xff) !== 0) return undefined;
    quanta |= n;
    out[o++] = n >> 16;
    if (rest === 3) out[o] = n >> 8;
  }
  return codes < 0x80 && quanta >= 0 ? out : undefined;
}

/**
 * Whether a string is canonical base64url (see {@link decodeBase64Url}).
 *
 * @example
 * ```ts
 * isCanonicalBase64Url('Zm9v');  // true
 * isCanonicalBase64Url('Zm9v='); // false
 * ```
 */
export function isCanonicalBase64Url(text: string): boolean {
  return decodeBase64Url(text) !== undefined;
}
