import {
  createStaticKeySource,
  type Algorithm,
  type KeyInput,
  type VerificationKey,
} from '@jwt-guard/core';
import {
  findWycheproofVectors,
  loadWycheproofSignatures,
  type WycheproofSignatureCase,
  type WycheproofSignatureGroup,
} from '@jwt-guard/testkit';

// The raw Wycheproof signature files through the fast path: a VerificationKey from
// createStaticKeySource, whose verify() is the node:crypto check the guard runs on every
// token. The vectors sign an arbitrary `msg`, so it stands in for the JWS signing input.

const VECTORS = findWycheproofVectors();
const describeVectors = VECTORS === undefined ? describe.skip : describe;

const FILES: readonly { file: string; alg: Algorithm }[] = [
  // RFC 7518 §3.4: JWS carries ECDSA signatures as raw r‖s, the IEEE P1363 form.
  { file: 'ecdsa_secp256r1_sha256_p1363_test.json', alg: 'ES256' },
  { file: 'ed25519_test.json', alg: 'EdDSA' },
  { file: 'rsa_signature_2048_sha256_test.json', alg: 'RS256' },
  // RFC 7518 §3.5: PS256 is MGF1 with SHA-256 and a 32-byte salt.
  { file: 'rsa_pss_2048_sha256_mgf1_32_test.json', alg: 'PS256' },
];

// Every group key of these files is one the guard accepts (the RSA ones are 2048 bits, the
// floor it enforces); a weaker group would have to be listed here with its refusal asserted.
const MIN_RSA_BITS = 2048;

/** The group's key in each form the file gives it: JWK (when present) and PEM. */
function keyForms(group: WycheproofSignatureGroup): { form: string; input: KeyInput }[] {
  const forms: { form: string; input: KeyInput }[] = [{ form: 'PEM', input: group.pem }];
  if (group.jwk !== undefined) forms.unshift({ form: 'JWK', input: group.jwk });
  return forms;
}

describeVectors.each(FILES)('Wycheproof $file through the $alg fast path', ({ file, alg }) => {
  const { numberOfTests, groups } = loadWycheproofSignatures(VECTORS as string, file);
  const cases = groups.flatMap((group) => group.tests.map((test) => ({ ...test, group })));
  const keys = new Map<
    WycheproofSignatureGroup,
    Promise<{ form: string; key: VerificationKey }[]>
  >();

  function keysOf(
    group: WycheproofSignatureGroup,
  ): Promise<{ form: string; key: VerificationKey }[]> {
    let found = keys.get(group);
    if (found === undefined) {
      found = Promise.all(
        keyForms(group).map(async ({ form, input }) => {
          const [key] = await createStaticKeySource(input, [alg]).select(undefined, alg);
          if (key === undefined) throw new Error(`${form} key was not selected for ${alg}`);
          return { form, key };
        }),
      );
      keys.set(group, found);
    }
    return found;
  }

  it('reads every case the file declares, with keys the guard accepts', () => {
    expect(cases).toHaveLength(numberOfTests);
    for (const group of groups)
      expect(group.keySize ?? MIN_RSA_BITS).toBeGreaterThanOrEqual(MIN_RSA_BITS);
  });

  it.each(cases)(
    'tcId $tcId $comment: $result',
    async (testCase: WycheproofSignatureCase & { group: WycheproofSignatureGroup }) => {
      const forms = await keysOf(testCase.group);
      // verify() must answer for any bytes; a throw fails the case here.
      const verdicts = Object.fromEntries(
        forms.map(({ form, key }) => [form, key.verify(alg, testCase.msg, testCase.sig)]),
      );
      if (testCase.result === 'acceptable') {
        for (const verdict of Object.values(verdicts)) expect(typeof verdict).toBe('boolean');
      } else {
        const expected = testCase.result === 'valid';
        expect(verdicts).toEqual(Object.fromEntries(forms.map(({ form }) => [form, expected])));
      }
    },
  );
});
