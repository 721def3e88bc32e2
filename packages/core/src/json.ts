/**
 * Why a JSON text was refused; mapped to a guard error by the caller.
 *
 * @example
 * ```ts
 * parseJsonObject('{"a":[[[]]]}', 2); // { ok: false, problem: 'too-deep' }
 * ```
 */
export type JsonProblem = 'syntax' | 'duplicate-key' | 'too-deep' | 'not-object';

/**
 * Result of {@link parseJsonObject}: the object, or the reason it was refused.
 *
 * @example
 * ```ts
 * const parsed = parseJsonObject(text, 16);
 * if (!parsed.ok) throw new FetchError(`response is not a JSON object (${parsed.problem})`);
 * const { keys } = parsed.value;
 * ```
 */
export type JsonResult =
  | { readonly ok: true; readonly value: Record<string, unknown> }
  | { readonly ok: false; readonly problem: JsonProblem };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * Parses a JWS header or JWT claims set as JSON, refusing what `JSON.parse` lets through:
 * duplicate member names (RFC 7515 §5.2 and RFC 7519 §4 ask to reject them, since two
 * parsers may pick different duplicates), nesting deeper than `maxDepth`, and any top-level
 * value that is not an object.
 *
 * @example
 * ```ts
 * parseJsonObject('{"a":1,"a":2}', 16); // { ok: false, problem: 'duplicate-key' }
 * ```
 */
export function parseJsonObject(text: string, maxDepth: number): JsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'syntax' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problem: 'not-object' };
  }
  const written = countWrittenMembers(text, maxDepth);
  if (written < 0) return { ok: false, problem: 'too-deep' };
  // JSON.parse keeps one member per name, so the text names more members than the result
  // holds exactly when some object repeats a name.
  if (written !== countMembers(value)) return { ok: false, problem: 'duplicate-key' };
  return { ok: true, value: value as Record<string, unknown> };
}

// Members as written in the text, or -1 past `maxDepth`. Runs after JSON.parse accepted the
// text, so it only needs to follow strings and brackets; a string right after `{` or after a
// comma inside an object is a member name.
function countWrittenMembers(text: string, maxDepth: number): number {
  const inObject: boolean[] = [];
  let depth = 0;
  let members = 0;
  let expectName = false;
  const length = text.length;
  let i = 0;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (expectName) {
        members++;
        expectName = false;
      }
      i = endOfString(text, i) + 1;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return -1;
      inObject[depth] = c === OPEN_OBJECT;
      expectName = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    } else if (c === COMMA) {
      expectName = inObject[depth] === true;
    }
    i++;
  }
  return members;
}

function countMembers(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += countMembers(item);
    return count;
  }
  for (const name in value) count += 1 + countMembers((value as Record<string, unknown>)[name]);
  return count;
}

function endOfString(text: string, start: number): number {
  let end = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
}
