import {
  ConfigurationError,
  createJwsVerifier,
  createStaticKeySource,
  isJwtGuardError,
  type Algorithm,
  type KeyInput,
} from '@jwt-guard/core';
import {
  ALL_ALGORITHMS,
  b64url,
  createTestClock,
  createTokenFactory,
  findWycheproofVectors,
  loadWycheproofJws,
  replaceSegment,
  signBytes,
  testKeys,
  type TestAlgorithm,
} from '@jwt-guard/testkit';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import type { KeyObject } from 'node:crypto';

// The fast path (node:crypto KeyObjects behind createJwsVerifier) and jose's compactVerify must
// reach the same verdict on every token, so replacing jose on the hot path changed speed and
// nothing else. Both get the same key and the same 13 allowed algorithms.

const VECTORS = findWycheproofVectors();
const describeVectors = VECTORS === undefined ? describe.skip : describe;
const ALGORITHMS: readonly Algorithm[] = ALL_ALGORITHMS;

type Verdict = { readonly accepted: true; readonly payload: Buffer } | { readonly accepted: false };

async function viaCore(key: KeyInput, token: string): Promise<Verdict & { code?: string }> {
  try {
    const keys = createStaticKeySource(key, ALGORITHMS);
    const { payload } = await createJwsVerifier({ keys, algorithms: ALGORITHMS }).verify(token);
    return { accepted: true, payload: Buffer.from(payload) };
  } catch (error) {
    // A key refused at configuration rejects every token under it.
    if (isJwtGuardError(error) || error instanceof ConfigurationError) {
      return { accepted: false, code: error.code };
    }
    throw error;
  }
}

async function viaJose(
  key: KeyObject | JWK | ReturnType<typeof createLocalJWKSet>,
  token: string,
): Promise<Verdict> {
  const options = { algorithms: [...ALGORITHMS] };
  try {
    const { payload } =
      typeof key === 'function'
        ? await compactVerify(token, key, options)
        : await compactVerify(token, key, options);
    return { accepted: true, payload: Buffer.from(payload) };
  } catch {
    return { accepted: false };
  }
}

/** Both verdicts, core's without its code so the two compare as equals. */
async function verdicts(
  coreKey: KeyInput,
  joseKey: Parameters<typeof viaJose>[0],
  token: string,
): Promise<{ core: Verdict; jose: Verdict; code: string | undefined }> {
  const [{ code, ...core }, jose] = await Promise.all([
    viaCore(coreKey, token),
    viaJose(joseKey, token),
  ]);
  return { core, jose, code };
}

// Intended differences, all one kind: jose 6 decodes base64url with atob (Uint8Array.fromBase64
// where the runtime has it), which skips ASCII whitespace and ignores the unused low bits of a
// final partial group. Core admits exactly one encoding per byte string (RFC 7515 §2, RFC 4648
// §3.3 and §3.5), so a token that was re-encoded on the way cannot pass as the one that was
// signed. Here jose accepts and core refuses the token as malformed; nowhere the other way.
const WYCHEPROOF_DIFFERENCES: ReadonlyMap<number, string> = new Map([
  [360, 'spaces inside the signature segment'],
  [365, 'spaces ending the header segment, covered by the MAC'],
  [368, 'spaces opening the payload segment, covered by the MAC'],
  [375, 'payload "AB": non-zero unused bits, the MAC computed over it as sent'],
]);

describeVectors('fast path and jose agree on Wycheproof json_web_signature_test.json', () => {
  const { cases } = loadWycheproofJws(VECTORS as string);

  // jose gets the group's JWK as it is (or a local JWKS for a key set): jose 6 then applies
  // RFC 7517's `use`, `key_ops` and `alg` to it, as core does. Importing it under the token's
  // `alg` instead would be the algorithm-from-the-token mistake core is built to avoid.
  function joseKeyOf(key: Record<string, unknown>): JWK | ReturnType<typeof createLocalJWKSet> {
    // jose freezes a JWK it is given; hand it a copy.
    const copy = structuredClone(key);
    return Array.isArray(copy.keys) ? createLocalJWKSet(copy as unknown as JSONWebKeySet) : copy;
  }

  it.each(cases.filter((c) => !WYCHEPROOF_DIFFERENCES.has(c.tcId)))(
    'tcId $tcId $group/$comment: same verdict',
    async (testCase) => {
      const { core, jose } = await verdicts(testCase.key, joseKeyOf(testCase.key), testCase.jws);
      expect(core).toEqual(jose);
    },
  );

  it.each(cases.filter((c) => WYCHEPROOF_DIFFERENCES.has(c.tcId)))(
    'tcId $tcId $group/$comment: jose accepts the non-canonical encoding, core refuses it',
    async (testCase) => {
      const { core, jose, code } = await verdicts(
        testCase.key,
        joseKeyOf(testCase.key),
        testCase.jws,
      );
      expect(jose.accepted).toBe(true);
      expect(core.accepted).toBe(false);
      expect(code).toBe('ERR_TOKEN_MALFORMED');
    },
  );
});

describe('fast path and jose agree on testkit tokens and their mutations', () => {
  const keys = testKeys();
  const clock = createTestClock();
  const mint = createTokenFactory({
    issuer: 'https://idp.example/',
    audience: 'https://api.example/',
    clock,
  });

  function flipSignatureByte(token: string, at: 'first' | 'last'): string {
    const signature = Buffer.from(token.split('.')[2] ?? '', 'base64url');
    const index = at === 'first' ? 0 : signature.length - 1;
    signature[index] = (signature[index] ?? 0) ^ 0x01;
    return replaceSegment(token, 2, b64url(signature));
  }

  // A payload whose encoding ends in a partial group with a unused bit set, signed over the
  // segment as sent: the signature is good, only the encoding is not canonical.
  function nonCanonicalPayload(alg: TestAlgorithm): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let json = JSON.stringify(mint.claims());
    while (b64url(json).length % 4 === 0) json += ' ';
    const canonical = b64url(json);
    const last = alphabet.indexOf(canonical.slice(-1));
    const payload = canonical.slice(0, -1) + (alphabet[last | 1] as string);
    const input = `${b64url(JSON.stringify({ alg, kid: keys[alg].kid }))}.${payload}`;
    return `${input}.${b64url(signBytes(alg, keys[alg].signingKey, input))}`;
  }

  const VARIANTS: Readonly<
    Record<
      string,
      { make(alg: TestAlgorithm): string; expected: 'accept' | 'reject' | 'jose only' }
    >
  > = {
    'as minted': { make: (alg) => mint.sign(keys[alg]), expected: 'accept' },
    'first signature byte flipped': {
      make: (alg) => flipSignatureByte(mint.sign(keys[alg]), 'first'),
      expected: 'reject',
    },
    'last signature byte flipped': {
      make: (alg) => flipSignatureByte(mint.sign(keys[alg]), 'last'),
      expected: 'reject',
    },
    'payload swapped for another token’s': {
      make: (alg) =>
        replaceSegment(
          mint.sign(keys[alg], { sub: 'alice' }),
          1,
          mint.sign(keys[alg], { sub: 'mallory' }).split('.')[1] ?? '',
        ),
      expected: 'reject',
    },
    // The one intended difference on minted tokens, of the kind listed above.
    'payload with a non-zero unused bit, signed as sent': {
      make: nonCanonicalPayload,
      expected: 'jose only',
    },
  };

  const table = ALL_ALGORITHMS.flatMap((alg) =>
    Object.keys(VARIANTS).map((variant) => ({ alg, variant })),
  );

  it.each(table)('$alg, $variant', async ({ alg, variant }) => {
    const { make, expected } = VARIANTS[variant] as (typeof VARIANTS)[string];
    const token = make(alg);
    // Core gets the published JWK (pinned to its `alg`), jose the KeyObject.
    const { core, jose, code } = await verdicts(keys[alg].jwk, keys[alg].verificationKey, token);
    switch (expected) {
      case 'accept':
        expect(core.accepted).toBe(true);
        expect(core).toEqual(jose);
        break;
      case 'reject':
        expect(core.accepted).toBe(false);
        expect(core).toEqual(jose);
        break;
      case 'jose only':
        expect(jose.accepted).toBe(true);
        expect(core.accepted).toBe(false);
        expect(code).toBe('ERR_TOKEN_MALFORMED');
        break;
    }
  });
});
