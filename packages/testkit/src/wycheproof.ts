import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Readers for the C2SP Wycheproof vectors. The vectors are not copied into the repository:
// they are read in place from a `shared/vectors/wycheproof` folder beside the repository.

const VECTORS = join('shared', 'vectors', 'wycheproof');

function workspaceRoot(): string {
  let root = process.cwd();
  while (!existsSync(join(root, 'pnpm-workspace.yaml')) && dirname(root) !== root)
    root = dirname(root);
  return root;
}

// A fresh clone (CI clones the checkout into a temporary folder) has no `shared` beside it,
// but its origin does: the local repository it was cloned from.
function localOrigin(root: string): string | undefined {
  let config: string;
  try {
    config = readFileSync(join(root, '.git', 'config'), 'utf8');
  } catch {
    return undefined;
  }
  const url = /\[remote "origin"\][^[]*?^\s*url\s*=\s*(.+)$/m.exec(config)?.[1]?.trim();
  if (url === undefined) return undefined;
  if (url.startsWith('file://')) return fileURLToPath(url);
  return isAbsolute(url) ? url : undefined;
}

function* ancestors(dir: string): Generator<string> {
  for (let current = resolve(dir); ; current = dirname(current)) {
    yield current;
    if (dirname(current) === current) return;
  }
}

/**
 * The Wycheproof vectors folder: `WYCHEPROOF_VECTORS`, else the first `shared/vectors/wycheproof`
 * found beside the workspace root or one of its parents, or beside the local repository a
 * clone came from. `undefined`, with a notice, when absent; with `REQUIRE_VECTORS=1` (set by
 * `.ci/run` once it has found them) absence is an error, so the suites never skip silently.
 *
 * @example
 * ```ts
 * const VECTORS = findWycheproofVectors();
 * const describeVectors = VECTORS === undefined ? describe.skip : describe;
 * ```
 */
export function findWycheproofVectors(): string | undefined {
  const configured = process.env.WYCHEPROOF_VECTORS;
  const root = workspaceRoot();
  const origin = localOrigin(root);
  const candidates =
    configured !== undefined && configured !== ''
      ? [resolve(configured)]
      : [root, ...(origin === undefined ? [] : [origin])].flatMap((start) =>
          [...ancestors(dirname(resolve(start)))].map((dir) => join(dir, VECTORS)),
        );
  const found = candidates.find((dir) => existsSync(join(dir, 'json_web_signature_test.json')));
  if (found !== undefined) return found;
  const message = `Wycheproof vectors not found (looked for ${VECTORS} beside the repository); set WYCHEPROOF_VECTORS to their folder`;
  if (process.env.REQUIRE_VECTORS === '1') throw new Error(message);
  console.warn(`${message}. The vector suites are skipped.`);
  return undefined;
}

/**
 * Wycheproof's verdict: `acceptable` cases may go either way, but must not crash.
 *
 * @example
 * ```ts
 * const mustVerify = (result: WycheproofResult): boolean => result === 'valid';
 * ```
 */
export type WycheproofResult = 'valid' | 'invalid' | 'acceptable';

/**
 * One case of `json_web_signature_test.json`, with the key of its group.
 *
 * @example
 * ```ts
 * const valid: WycheproofJwsCase[] = cases.filter((c) => c.result === 'valid');
 * it.each(valid)('tc $tcId ($group) verifies', async ({ jws, key }) => {
 *   await expect(verifierFor(key).verify(jws)).resolves.toBeDefined();
 * });
 * ```
 */
export interface WycheproofJwsCase {
  readonly tcId: number;
  readonly comment: string;
  /** The group's comment (`hs256`, `rfc7520`, `base64`…), for test names. */
  readonly group: string;
  readonly jws: string;
  readonly result: WycheproofResult;
  readonly flags: readonly string[];
  /** The verification key: the group's `public` JWK, else its `private` (HMAC) one; a JWK or a JWKS. */
  readonly key: Record<string, unknown>;
}

/**
 * One case of a raw signature file (ECDSA P1363, EdDSA, RSA PKCS#1 v1.5, RSA-PSS).
 *
 * @example
 * ```ts
 * const cases: readonly WycheproofSignatureCase[] = group.tests;
 * for (const { msg, sig, result } of cases) {
 *   if (result !== 'acceptable') expect(key.verify(alg, msg, sig)).toBe(result === 'valid');
 * }
 * ```
 */
export interface WycheproofSignatureCase {
  readonly tcId: number;
  readonly comment: string;
  readonly msg: Buffer;
  readonly sig: Buffer;
  readonly result: WycheproofResult;
  readonly flags: readonly string[];
}

/**
 * A group of a raw signature file: one public key in the forms the file gives, and its cases.
 *
 * @example
 * ```ts
 * const source = createStaticKeySource(group.jwk ?? group.pem, ['ES256']);
 * ```
 */
export interface WycheproofSignatureGroup {
  /** The public key as a JWK (`publicKeyJwk`, or `keyJwk` in the RSA PKCS#1 files), if given. */
  readonly jwk: Record<string, unknown> | undefined;
  /** The public key as SPKI PEM; every group has one. */
  readonly pem: string;
  /** Modulus size for RSA groups (`keySize`), else undefined. */
  readonly keySize: number | undefined;
  readonly tests: readonly WycheproofSignatureCase[];
}

type Json = Record<string, unknown>;

function object(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`Wycheproof: ${where} is not an object`);
  }
  return value as Json;
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`Wycheproof: ${where} is not an array`);
  return value;
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`Wycheproof: ${where} is not a string`);
  return value;
}

function result(value: unknown, where: string): WycheproofResult {
  if (value === 'valid' || value === 'invalid' || value === 'acceptable') return value;
  throw new Error(`Wycheproof: ${where} has an unknown result`);
}

function readFile(dir: string, file: string): { numberOfTests: number; groups: Json[] } {
  const document = object(JSON.parse(readFileSync(join(dir, file), 'utf8')), file);
  const numberOfTests = document.numberOfTests;
  if (typeof numberOfTests !== 'number') throw new Error(`Wycheproof: ${file} has no count`);
  const groups = array(document.testGroups, `${file} testGroups`).map((g, i) =>
    object(g, `${file} group ${i}`),
  );
  return { numberOfTests, groups };
}

function common(test: Json, where: string): Omit<WycheproofJwsCase, 'group' | 'jws' | 'key'> {
  const tcId = test.tcId;
  if (typeof tcId !== 'number') throw new Error(`Wycheproof: ${where} has no tcId`);
  return {
    tcId,
    comment: string(test.comment, `${where} comment`),
    result: result(test.result, where),
    flags: array(test.flags ?? [], `${where} flags`).map((f) => string(f, `${where} flag`)),
  };
}

/**
 * Every case of `json_web_signature_test.json`, flattened, each with its group's key.
 *
 * @example
 * ```ts
 * const { numberOfTests, cases } = loadWycheproofJws(findWycheproofVectors());
 * ```
 */
export function loadWycheproofJws(dir: string): {
  numberOfTests: number;
  cases: WycheproofJwsCase[];
} {
  const file = 'json_web_signature_test.json';
  const { numberOfTests, groups } = readFile(dir, file);
  return {
    numberOfTests,
    cases: groups.flatMap((group, g) => {
      const key = object(group.public ?? group.private, `${file} group ${g} key`);
      const name = string(group.comment, `${file} group ${g} comment`);
      return array(group.tests, `${file} group ${g} tests`).map((t, i) => {
        const test = object(t, `${file} group ${g} test ${i}`);
        return {
          ...common(test, `${file} group ${g} test ${i}`),
          group: name,
          jws: string(test.jws, `${file} group ${g} test ${i} jws`),
          key,
        };
      });
    }),
  };
}

/**
 * The groups of a raw signature file such as `ecdsa_secp256r1_sha256_p1363_test.json`.
 *
 * @example
 * ```ts
 * const { groups } = loadWycheproofSignatures(dir, 'ed25519_test.json');
 * ```
 */
export function loadWycheproofSignatures(
  dir: string,
  file: string,
): { numberOfTests: number; groups: WycheproofSignatureGroup[] } {
  const { numberOfTests, groups } = readFile(dir, file);
  return {
    numberOfTests,
    groups: groups.map((group, g) => {
      const where = `${file} group ${g}`;
      const jwk = group.publicKeyJwk ?? group.keyJwk;
      const keySize = group.keySize;
      return {
        jwk: jwk === undefined ? undefined : object(jwk, `${where} JWK`),
        pem: string(group.publicKeyPem, `${where} publicKeyPem`),
        keySize: keySize === undefined ? undefined : Number(keySize),
        tests: array(group.tests, `${where} tests`).map((t, i) => {
          const test = object(t, `${where} test ${i}`);
          return {
            ...common(test, `${where} test ${i}`),
            msg: Buffer.from(string(test.msg, `${where} test ${i} msg`), 'hex'),
            sig: Buffer.from(string(test.sig, `${where} test ${i} sig`), 'hex'),
          };
        }),
      };
    }),
  };
}
