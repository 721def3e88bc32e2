import {
  ConfigurationError,
  createJwsVerifier,
  createStaticKeySource,
  isJwtGuardError,
  type Algorithm,
  type ErrorCode,
  type JwtGuardError,
} from '@jwt-guard/core';
import {
  ALL_ALGORITHMS,
  findWycheproofVectors,
  loadWycheproofJws,
  type WycheproofJwsCase,
} from '@jwt-guard/testkit';

// Signature-only conformance: every case of Wycheproof's JWS file against createJwsVerifier,
// with the group's key given explicitly and all 13 algorithms allowed (HS* included, since the
// key is explicit), so each verdict comes from the verifier and not from configuration.

const VECTORS = findWycheproofVectors();
const describeVectors = VECTORS === undefined ? describe.skip : describe;
const ALGORITHMS: readonly Algorithm[] = ALL_ALGORITHMS;
const { numberOfTests, cases } =
  VECTORS === undefined ? { numberOfTests: 0, cases: [] } : loadWycheproofJws(VECTORS);

type Outcome =
  | { readonly kind: 'accepted'; readonly payload: Buffer }
  | { readonly kind: 'refused'; readonly error: JwtGuardError }
  /** createStaticKeySource refused the group's key: a rejection of every token under it. */
  | { readonly kind: 'key refused'; readonly error: ConfigurationError };

async function verify(testCase: WycheproofJwsCase): Promise<Outcome> {
  let keys;
  try {
    // A JWKS group key goes in as it is; KeyInput takes both shapes.
    keys = createStaticKeySource(testCase.key, ALGORITHMS);
  } catch (error) {
    if (error instanceof ConfigurationError) return { kind: 'key refused', error };
    throw error;
  }
  try {
    const { payload } = await createJwsVerifier({ keys, algorithms: ALGORITHMS }).verify(
      testCase.jws,
    );
    return { kind: 'accepted', payload: Buffer.from(payload) };
  } catch (error) {
    // Anything but a guard error (a TypeError from a parser, say) fails the case.
    if (isJwtGuardError(error)) return { kind: 'refused', error };
    throw error;
  }
}

function segment(jws: string, index: 0 | 1): Buffer {
  return Buffer.from(jws.split('.')[index] ?? '', 'base64url');
}

// A signature-only verifier can refuse at these steps and no other.
const SIGNATURE_STAGE: readonly ErrorCode[] = [
  'ERR_TOKEN_MALFORMED',
  'ERR_ALGORITHM_NOT_ALLOWED',
  'ERR_HEADER_INVALID',
  'ERR_KEY_NOT_FOUND',
  'ERR_SIGNATURE_INVALID',
];

/** The refusal each invalid case must get, from what Wycheproof says it exercises. */
function expectedCodes(testCase: WycheproofJwsCase): readonly ErrorCode[] {
  const { flags } = testCase;
  // RFC 7518 §3.6 / RFC 8725 §3.1: `none` never verifies; its empty signature is refused as
  // malformed before the algorithm is even read.
  if (flags.includes('AlgIsNone')) return ['ERR_TOKEN_MALFORMED', 'ERR_ALGORITHM_NOT_ALLOWED'];
  // RFC 7515 §7.1: only the compact serialization is accepted.
  if (flags.includes('JsonSerialization')) return ['ERR_TOKEN_MALFORMED'];
  if (flags.includes('ModifiedSignature') || flags.includes('ModifiedPadding')) {
    return ['ERR_SIGNATURE_INVALID'];
  }
  if (flags.includes('WrongPrimitive')) {
    // The key is pinned to its JWK `alg` (RFC 7517 §4.4): a token naming another algorithm
    // finds no key; one naming the key's algorithm but computed otherwise fails the check.
    const { alg } = JSON.parse(segment(testCase.jws, 0).toString('utf8')) as { alg: unknown };
    return [alg === testCase.key.alg ? 'ERR_SIGNATURE_INVALID' : 'ERR_KEY_NOT_FOUND'];
  }
  // RFC 7515 §2: base64url without padding, whitespace or characters outside the alphabet.
  if (testCase.group === 'base64') return ['ERR_TOKEN_MALFORMED'];
  if (testCase.group === 'SpecialCaseEs256') return ['ERR_SIGNATURE_INVALID'];
  return SIGNATURE_STAGE;
}

type Deviation =
  | { readonly outcome: 'refused'; readonly code: ErrorCode }
  | { readonly outcome: 'key refused' }
  | { readonly outcome: 'accepted'; readonly sameTokenAs: number };

// Cases where this verifier deliberately, or because of a fault in the file, reaches another
// verdict than Wycheproof's. Each is asserted as it is, so the list cannot go stale; every
// case not listed must match Wycheproof.
const DEVIATIONS: ReadonlyMap<number, Deviation> = new Map<number, Deviation>([
  // RFC 7520 figure 20 signs PS384 with the figure 13 key, whose JWK says "alg": "PS256".
  // A key is used only with the algorithm it declares (RFC 7517 §4.4, RFC 8725 §3.1), so no
  // key is a candidate for a PS384 token.
  [346, { outcome: 'refused', code: 'ERR_KEY_NOT_FOUND' }],
  [350, { outcome: 'refused', code: 'ERR_KEY_NOT_FOUND' }],
  // RFC 7520 figure 27's key says "alg": "ES521", which is no JWS algorithm (RFC 7518 §3.1
  // names P-521 ECDSA "ES512"); a key whose `alg` does not fit its type is refused when
  // configured, rather than guessed at.
  [347, { outcome: 'key refused' }],
  [351, { outcome: 'key refused' }],
  // Fault of the file: "invalidBase64Padding" and "invalidBase64PaddingInPayload" carry no
  // padding at all; their token is byte for byte the valid tcId 357 token, so accepting it is
  // the only correct verdict.
  [367, { outcome: 'accepted', sameTokenAs: 357 }],
  [370, { outcome: 'accepted', sameTokenAs: 357 }],
  // Fault of the file: labelled valid, yet a '?' sits inside the header (372) or payload (373)
  // segment while the MAC is tcId 357's, computed without it. Strict base64url (RFC 7515 §2)
  // refuses the segment; jose and jose4j refuse these tokens too.
  [372, { outcome: 'refused', code: 'ERR_TOKEN_MALFORMED' }],
  [373, { outcome: 'refused', code: 'ERR_TOKEN_MALFORMED' }],
]);

function expectRefusal(error: JwtGuardError, codes: readonly ErrorCode[]): void {
  expect(codes).toContain(error.code);
  // RFC 6750 §3.1: a token that does not verify is an `invalid_token` 401.
  expect(error.status).toBe(401);
  expect(error.headers['WWW-Authenticate']).toMatch(/^Bearer (?:.*, )?error="invalid_token"/);
}

describeVectors('Wycheproof json_web_signature_test.json through createJwsVerifier', () => {
  it('reads every case the file declares', () => {
    expect(cases).toHaveLength(numberOfTests);
    const ids = new Set(cases.map((c) => c.tcId));
    for (const tcId of DEVIATIONS.keys()) expect(ids).toContain(tcId);
  });

  const matching = cases.filter((c) => !DEVIATIONS.has(c.tcId));

  it.each(matching.filter((c) => c.result === 'valid'))(
    'tcId $tcId $group/$comment: valid, accepted',
    async (testCase) => {
      const outcome = await verify(testCase);
      expect(outcome).toEqual({ kind: 'accepted', payload: segment(testCase.jws, 1) });
    },
  );

  it.each(matching.filter((c) => c.result === 'invalid'))(
    'tcId $tcId $group/$comment: invalid, rejected',
    async (testCase) => {
      const outcome = await verify(testCase);
      expect(outcome.kind).not.toBe('accepted');
      if (outcome.kind === 'refused') expectRefusal(outcome.error, expectedCodes(testCase));
      // A key for encryption (`use: enc`, `key_ops: [encrypt]`) is refused at configuration,
      // the only place a key is ever judged.
      if (outcome.kind === 'key refused') expect(outcome.error.code).toBe('ERR_INVALID_OPTIONS');
    },
  );

  it('has no acceptable cases to judge', () => {
    expect(cases.filter((c) => c.result === 'acceptable')).toEqual([]);
  });

  describe('deviations from the file', () => {
    it.each(cases.filter((c) => DEVIATIONS.has(c.tcId)))(
      'tcId $tcId $group/$comment: $result in the file',
      async (testCase) => {
        const deviation = DEVIATIONS.get(testCase.tcId);
        const outcome = await verify(testCase);
        switch (deviation?.outcome) {
          case 'refused':
            expect(outcome.kind).toBe('refused');
            if (outcome.kind === 'refused') expectRefusal(outcome.error, [deviation.code]);
            break;
          case 'key refused':
            expect(outcome.kind).toBe('key refused');
            break;
          case 'accepted': {
            const original = cases.find((c) => c.tcId === deviation.sameTokenAs);
            expect(original?.result).toBe('valid');
            expect(testCase.jws).toBe(original?.jws);
            expect(outcome).toEqual({ kind: 'accepted', payload: segment(testCase.jws, 1) });
            break;
          }
          default:
            throw new Error(`tcId ${testCase.tcId} has no deviation entry`);
        }
      },
    );
  });
});
