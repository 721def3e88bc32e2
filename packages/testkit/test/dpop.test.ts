import { createHash, createPublicKey } from 'node:crypto';
import {
  calculateJwkThumbprint,
  compactVerify,
  decodeJwt,
  decodeProtectedHeader,
  EmbeddedJWK,
  errors,
  jwtVerify,
} from 'jose';
import {
  createDpopKey,
  createDpopProof,
  dpopAth,
  type DpopAlgorithm,
  type DpopKey,
} from '@jwt-guard/testkit';

const htu = 'https://api.example/items';
const accessToken = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

let key: DpopKey;

beforeAll(async () => {
  key = await createDpopKey();
});

describe('createDpopKey', () => {
  it.each<[DpopAlgorithm, Record<string, unknown>]>([
    ['ES256', { kty: 'EC', crv: 'P-256' }],
    ['ES384', { kty: 'EC', crv: 'P-384' }],
    ['EdDSA', { kty: 'OKP', crv: 'Ed25519' }],
    ['RS256', { kty: 'RSA' }],
    ['PS256', { kty: 'RSA' }],
  ])('makes a %s key with a public JWK and its RFC 7638 thumbprint', async (alg, shape) => {
    const made = await createDpopKey(alg);

    expect(made.alg).toBe(alg);
    expect(made.publicJwk).toMatchObject(shape);
    expect(made.publicJwk).not.toHaveProperty('d');
    expect(made.thumbprint).toBe(await calculateJwkThumbprint(made.publicJwk, 'sha256'));
  });

  it('defaults to ES256', () => {
    expect(key.alg).toBe('ES256');
  });
});

describe('dpopAth', () => {
  it('is the base64url SHA-256 of the token', () => {
    const expected = createHash('sha256').update(accessToken).digest('base64url');

    expect(dpopAth(accessToken)).toBe(expected);
  });
});

describe('createDpopProof', () => {
  it('makes an RFC 9449 proof that verifies with its embedded key', async () => {
    const proof = createDpopProof(key, { htm: 'GET', htu, accessToken, iatSeconds: 1_700_000_000 });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      currentDate: new Date(1_700_000_000_000),
    });

    expect(protectedHeader).toEqual({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk });
    expect(payload).toEqual({
      jti: expect.any(String),
      htm: 'GET',
      htu,
      iat: 1_700_000_000,
      ath: dpopAth(accessToken),
    });
  });

  it('dates the proof now and gives each proof its own jti by default', () => {
    const before = Math.floor(Date.now() / 1000);
    const first = decodeJwt(createDpopProof(key, { htm: 'GET', htu }));
    const second = decodeJwt(createDpopProof(key, { htm: 'GET', htu }));
    const after = Math.ceil(Date.now() / 1000);

    expect(first.iat).toBeGreaterThanOrEqual(before);
    expect(first.iat).toBeLessThanOrEqual(after);
    expect(first.jti).not.toBe(second.jti);
    expect(first).not.toHaveProperty('ath');
    expect(first).not.toHaveProperty('nonce');
  });

  it('carries the given jti and nonce', () => {
    const payload = decodeJwt(createDpopProof(key, { htm: 'POST', htu, jti: 'j-1', nonce: 'n-1' }));

    expect(payload).toMatchObject({ jti: 'j-1', nonce: 'n-1', htm: 'POST' });
  });

  it.each(['EdDSA', 'RS256', 'PS256', 'ES384'] as const)('signs with a %s key', async (alg) => {
    const other = await createDpopKey(alg);
    const { protectedHeader } = await jwtVerify(
      createDpopProof(other, { htm: 'GET', htu }),
      EmbeddedJWK,
    );

    expect(protectedHeader.alg).toBe(alg);
  });

  it.each(['typ', 'jwk'] as const)('omits the %s header', (member) => {
    const header = decodeProtectedHeader(createDpopProof(key, { htm: 'GET', htu, omit: [member] }));

    expect(header).not.toHaveProperty(member);
    expect(header.alg).toBe('ES256');
  });

  it.each(['jti', 'htm', 'htu', 'iat', 'ath'] as const)('omits the %s claim', (member) => {
    const proof = createDpopProof(key, { htm: 'GET', htu, accessToken, omit: [member] });

    expect(decodeJwt(proof)).not.toHaveProperty(member);
  });

  it('merges header overrides last: another typ, a private jwk, a removed member', async () => {
    const privateJwk = key.privateKey.export({ format: 'jwk' });
    const proof = createDpopProof(key, {
      htm: 'GET',
      htu,
      header: { typ: 'JWT', jwk: privateJwk, kid: 'k-1' },
    });

    expect(decodeProtectedHeader(proof)).toEqual({
      typ: 'JWT',
      alg: 'ES256',
      jwk: privateJwk,
      kid: 'k-1',
    });
    const retyped = createDpopProof(key, { htm: 'GET', htu, header: { typ: 'JWT' } });
    await expect(jwtVerify(retyped, EmbeddedJWK, { typ: 'dpop+jwt' })).rejects.toThrow(
      errors.JWTClaimValidationFailed,
    );
    expect(
      decodeProtectedHeader(createDpopProof(key, { htm: 'GET', htu, header: { typ: undefined } })),
    ).not.toHaveProperty('typ');
  });

  it('merges claim overrides last', () => {
    const payload = decodeJwt(
      createDpopProof(key, {
        htm: 'GET',
        htu,
        accessToken,
        claims: { htm: 'POST', iat: 0, extra: true, ath: undefined },
      }),
    );

    expect(payload).toMatchObject({ htm: 'POST', iat: 0, extra: true });
    expect(payload).not.toHaveProperty('ath');
  });

  it('signs with another key than the embedded one', async () => {
    const attacker = await createDpopKey();
    const proof = createDpopProof(key, { htm: 'GET', htu, signWith: attacker.privateKey });

    expect(decodeProtectedHeader(proof).jwk).toEqual(key.publicJwk);
    await expect(jwtVerify(proof, EmbeddedJWK)).rejects.toBeInstanceOf(
      errors.JWSSignatureVerificationFailed,
    );
    await expect(compactVerify(proof, createPublicKey(attacker.privateKey))).resolves.toBeDefined();
  });
});
