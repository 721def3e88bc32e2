/** Why a JSON text was refused; mapped to a guard error by the caller. */
export type JsonProblem = 'syntax' | 'duplicate-key' | 'too-deep' | 'not-object';

/** Result of {@link parseJsonObject}: the object, or the reason it was refused. */
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
  const problem = scanStructure(text, maxDepth);
  return problem === undefined
    ? { ok: true, value: value as Record<string, unknown> }
    : { ok: false, problem };
}

// Runs after JSON.parse accepted the text, so the input is known to be well-formed JSON and
// the scan only needs to follow strings and brackets.
function scanStructure(text: string, maxDepth: number): JsonProblem | undefined {
  const keys: (Set<string> | null)[] = [];
  let expectKey = false;
  let i = 0;
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = endOfString(text, i);
      if (expectKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        const set = keys[keys.length - 1];
        if (set) {
          if (set.has(key)) return 'duplicate-key';
          set.add(key);
        }
        expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (keys.length >= maxDepth) return 'too-deep';
      keys.push(c === OPEN_OBJECT ? new Set() : null);
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      keys.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = keys[keys.length - 1] !== null;
    }
    i++;
  }
  return undefined;
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
