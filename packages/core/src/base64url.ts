/**
 * Decodes `text[start, end)` as canonical RFC 4648 §5 base64url, or returns `undefined`: only
 * the URL-safe alphabet, no padding, no whitespace, no impossible length (4n + 1), and zero
 * unused bits in the last character (RFC 4648 §3.5), so each byte string has exactly one
 * accepted encoding.
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
  const segment = start === 0 && end === text.length ? text : text.slice(start, end);
  // Node's decoder is lenient: it skips what it does not understand, takes the standard
  // alphabet and padding too, and ignores unused bits. Its encoder is canonical, so a segment
  // that re-encodes to itself was canonical, and both native passes together cost less than
  // one validating loop in JavaScript.
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : undefined;
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
