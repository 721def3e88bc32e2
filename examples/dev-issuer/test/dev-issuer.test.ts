// Through the public API and real HTTP on 127.0.0.1, as a demo or an API under test sees it.
import { request } from 'node:http';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import {
  createDevIssuer,
  DEFAULT_AUDIENCE,
  DEFAULT_DEV_CLIENTS,
  DevIssuerError,
  type DevClient,
  type DevIssuer,
} from '../src/index.js';

type Json = Record<string, unknown>;

const secretOf = (clientId: string): string => {
  const client = DEFAULT_DEV_CLIENTS.find((candidate) => candidate.clientId === clientId);
  if (client === undefined) throw new Error(`no demo client ${clientId}`);
  return client.clientSecret;
};

// RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined and base64-encoded.
const formEncode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
const basic = (clientId: string, clientSecret: string): string =>
  `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;

async function readJson(response: Response): Promise<Json> {
  return (await response.json()) as Json;
}

function postToken(
  issuer: DevIssuer,
  params: Record<string, string | string[]>,
  headers: Record<string, string> = {},
): Promise<Response> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
  }
  return fetch(issuer.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: form.toString(),
  });
}

function requestToken(
  issuer: DevIssuer,
  clientId: string,
  params: Record<string, string | string[]> = {},
): Promise<Response> {
  return postToken(
    issuer,
    { grant_type: 'client_credentials', ...params },
    { authorization: basic(clientId, secretOf(clientId)) },
  );
}

async function accessTokenOf(response: Response): Promise<string> {
  const body = await readJson(response);
  if (typeof body.access_token !== 'string') throw new Error(`no token: ${response.status}`);
  return body.access_token;
}

let issuer: DevIssuer;
beforeAll(async () => {
  issuer = await createDevIssuer({ port: 0 });
});
afterAll(() => issuer.close());

describe('discovery and keys', () => {
  it('serves the same metadata at both well-known addresses', async () => {
    const oidc = await fetch(`${issuer.url}/.well-known/openid-configuration`);
    const oauth = await fetch(`${issuer.url}/.well-known/oauth-authorization-server`);
    expect(oidc.status).toBe(200);
    expect(oidc.headers.get('content-type')).toMatch(/^application\/json/);
    const metadata = await readJson(oidc);
    expect(await readJson(oauth)).toEqual(metadata);
    expect(metadata).toMatchObject({
      issuer: issuer.issuer,
      jwks_uri: issuer.jwksUri,
      token_endpoint: issuer.tokenEndpoint,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: ['admin', 'orders:read', 'orders:write'],
    });
    expect(issuer.issuer).toBe(issuer.url);
    expect(issuer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('publishes one ES256 and one RS256 public key with thumbprint kids', async () => {
    const response = await fetch(issuer.jwksUri);
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: JWK[] };
    expect(keys.map((key) => [key.alg, key.kty, key.use])).toEqual([
      ['ES256', 'EC', 'sig'],
      ['RS256', 'RSA', 'sig'],
    ]);
    for (const key of keys) {
      expect(key.kid).toBe(await calculateJwkThumbprint(key, 'sha256'));
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
        expect(key).not.toHaveProperty(member);
    }
    expect(keys[0]?.crv).toBe('P-256');
    expect(Buffer.from(keys[1]?.n ?? '', 'base64url').length * 8).toBe(2048);
  });

  it('serves a path issuer at both the OIDC and the RFC 8414 addresses', async () => {
    const tenant = await createDevIssuer({ issuerUrl: 'https://idp.example/tenant-a' });
    try {
      expect(tenant.jwksUri).toBe('https://idp.example/tenant-a/jwks.json');
      for (const path of [
        '/tenant-a/.well-known/openid-configuration',
        '/.well-known/oauth-authorization-server/tenant-a',
      ]) {
        const metadata = await readJson(await fetch(`${tenant.url}${path}`));
        expect(metadata.issuer).toBe('https://idp.example/tenant-a');
      }
      expect((await fetch(`${tenant.url}/tenant-a/jwks.json`)).status).toBe(200);
      expect((await fetch(`${tenant.url}/jwks.json`)).status).toBe(404);
      const token = await tenant.mint('catalog-reader');
      expect(decodeJwt(token).iss).toBe('https://idp.example/tenant-a');
    } finally {
      await tenant.close();
    }
  });
});

describe('client_credentials', () => {
  it('issues a token to a client authenticated with HTTP Basic', async () => {
    const response = await requestToken(issuer, 'order-writer');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await readJson(response);
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'orders:read orders:write',
    });
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
  });

  it('issues a token to a client authenticated with client_secret_post', async () => {
    const response = await postToken(issuer, {
      grant_type: 'client_credentials',
      client_id: 'admin-console',
      client_secret: secretOf('admin-console'),
    });
    expect(response.status).toBe(200);
    expect(decodeJwt(await accessTokenOf(response)).scope).toBe('orders:read orders:write admin');
  });

  it('form-decodes the Basic credentials', async () => {
    const client: DevClient = { clientId: 'odd id', clientSecret: 'p@ss:w rd+%/é', scopes: ['x'] };
    const odd = await createDevIssuer({ clients: [client] });
    try {
      const response = await postToken(
        odd,
        { grant_type: 'client_credentials' },
        { authorization: basic(client.clientId, client.clientSecret) },
      );
      expect(response.status).toBe(200);
      expect(decodeJwt(await accessTokenOf(response)).client_id).toBe('odd id');
    } finally {
      await odd.close();
    }
  });

  it.each([
    ['a wrong secret', { authorization: basic('catalog-reader', 'wrong') }, {}],
    ['an unknown client', { authorization: basic('nobody', 'catalog-reader-dev-secret') }, {}],
    ['a wrong posted secret', {}, { client_id: 'catalog-reader', client_secret: 'x' }],
    ['no credentials', {}, {}],
    ['a Bearer header', { authorization: 'Bearer abc' }, {}],
    ['malformed Basic', { authorization: 'Basic %%%' }, {}],
    ['Basic without a colon', { authorization: `Basic ${btoa('catalog-reader')}` }, {}],
  ])('refuses %s with 401 invalid_client', async (_name, headers, params) => {
    const response = await postToken(
      issuer,
      { grant_type: 'client_credentials', ...params },
      headers,
    );
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="dev-issuer"');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await readJson(response)).toEqual({
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });
  });

  it('refuses two authentication methods in one request', async () => {
    const response = await requestToken(issuer, 'catalog-reader', {
      client_secret: secretOf('catalog-reader'),
    });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error).toBe('invalid_request');
  });

  it('grants a requested subset of the client scopes, and only that', async () => {
    const response = await requestToken(issuer, 'admin-console', { scope: 'orders:read' });
    expect(response.status).toBe(200);
    expect(await readJson(response)).toMatchObject({ scope: 'orders:read' });
  });

  it.each(['admin', 'orders:read admin', 'ORDERS:READ', 'orders:readX', 'orders:read  ', ''])(
    'refuses scope %j for catalog-reader with 400 invalid_scope',
    async (scope) => {
      const response = await requestToken(issuer, 'catalog-reader', { scope });
      expect(response.status).toBe(400);
      expect((await readJson(response)).error).toBe('invalid_scope');
    },
  );

  it('refuses other grant types and a missing grant_type', async () => {
    const password = await requestToken(issuer, 'catalog-reader', { grant_type: 'password' });
    expect(password.status).toBe(400);
    expect((await readJson(password)).error).toBe('unsupported_grant_type');

    const missing = await postToken(
      issuer,
      {},
      { authorization: basic('catalog-reader', secretOf('catalog-reader')) },
    );
    expect(missing.status).toBe(400);
    expect((await readJson(missing)).error).toBe('invalid_request');
  });

  it('refuses repeated parameters and bodies that are not a form', async () => {
    const repeated = await requestToken(issuer, 'catalog-reader', {
      scope: ['orders:read', 'orders:read'],
    });
    expect(repeated.status).toBe(400);
    expect((await readJson(repeated)).error).toBe('invalid_request');

    const json = await fetch(issuer.tokenEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: basic('catalog-reader', secretOf('catalog-reader')),
      },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    expect(json.status).toBe(400);
    expect((await readJson(json)).error).toBe('invalid_request');
  });
});

describe('RFC 8707 resource indicators', () => {
  const ORDERS = 'https://orders.example/';
  const BILLING = 'https://billing.example/';
  let multi: DevIssuer;
  beforeAll(async () => {
    multi = await createDevIssuer({ audience: [ORDERS, BILLING] });
  });
  afterAll(() => multi.close());

  it('narrows the audience to the requested resource', async () => {
    const response = await requestToken(multi, 'catalog-reader', { resource: BILLING });
    expect(response.status).toBe(200);
    expect(decodeJwt(await accessTokenOf(response)).aud).toBe(BILLING);
  });

  it('uses every configured audience without a resource', async () => {
    const token = await accessTokenOf(await requestToken(multi, 'catalog-reader'));
    expect(decodeJwt(token).aud).toEqual([ORDERS, BILLING]);
  });

  it.each([['https://evil.example/'], ['https://orders.example'], [[ORDERS, 'urn:other']]])(
    'refuses resource %j with 400 invalid_target',
    async (resource) => {
      const response = await requestToken(multi, 'catalog-reader', { resource });
      expect(response.status).toBe(400);
      expect((await readJson(response)).error).toBe('invalid_target');
    },
  );
});

describe('access tokens', () => {
  const verify = (token: string) =>
    jwtVerify(token, createRemoteJWKSet(new URL(issuer.jwksUri)), {
      issuer: issuer.issuer,
      audience: DEFAULT_AUDIENCE,
      typ: 'at+jwt',
      algorithms: ['ES256', 'RS256'],
    });

  it('are RFC 9068 JWTs that verify against the published JWKS', async () => {
    const token = await accessTokenOf(await requestToken(issuer, 'catalog-reader'));
    const { payload, protectedHeader } = await verify(token);
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const { keys } = (await (await fetch(issuer.jwksUri)).json()) as { keys: JWK[] };
    expect(protectedHeader.kid).toBe(keys.find((key) => key.alg === 'ES256')?.kid);
    expect(Object.keys(payload).sort()).toEqual(
      ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub'].sort(),
    );
    expect(payload).toMatchObject({
      iss: issuer.issuer,
      sub: 'catalog-reader',
      client_id: 'catalog-reader',
      aud: DEFAULT_AUDIENCE,
      scope: 'orders:read',
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
    expect(Math.abs((payload.iat ?? 0) - Date.now() / 1000)).toBeLessThan(5);
    expect(payload.jti).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('carry a fresh jti every time', async () => {
    const tokens = await Promise.all(
      Array.from({ length: 5 }, () =>
        requestToken(issuer, 'catalog-reader').then((response) => accessTokenOf(response)),
      ),
    );
    expect(new Set(tokens.map((token) => decodeJwt(token).jti)).size).toBe(5);
  });

  it('are signed with RS256 for a client that chose it', async () => {
    const token = await accessTokenOf(await requestToken(issuer, 'rsa-client'));
    const { protectedHeader } = await verify(token);
    expect(protectedHeader.alg).toBe('RS256');
  });

  it('are already expired for the backdated demo client', async () => {
    const response = await requestToken(issuer, 'expired-demo');
    expect(response.status).toBe(200);
    const body = await readJson(response);
    expect(body.expires_in).toBe(0);
    const token = String(body.access_token);
    await expect(verify(token)).rejects.toBeInstanceOf(errors.JWTExpired);
    const { exp = 0 } = decodeJwt(token);
    expect(exp).toBeLessThan(Date.now() / 1000 - 600);
  });

  it('honour the configured and per-client lifetimes', async () => {
    const custom = await createDevIssuer({
      tokenLifetimeSeconds: 60,
      clients: [
        { clientId: 'a', clientSecret: 'a-secret', scopes: ['x'] },
        { clientId: 'b', clientSecret: 'b-secret', scopes: ['x'], tokenLifetimeSeconds: 120 },
      ],
    });
    try {
      const a = decodeJwt(await custom.mint('a'));
      const b = decodeJwt(await custom.mint('b'));
      expect((a.exp ?? 0) - (a.iat ?? 0)).toBe(60);
      expect((b.exp ?? 0) - (b.iat ?? 0)).toBe(120);
    } finally {
      await custom.close();
    }
  });
});

describe('DPoP at the token endpoint (RFC 9449 §5)', () => {
  interface ProofKey {
    readonly alg: string;
    readonly privateKey: CryptoKey;
    readonly publicJwk: JWK;
  }
  interface ProofInput {
    readonly header?: Record<string, unknown>;
    readonly claims?: Record<string, unknown>;
    readonly signWith?: CryptoKey | Uint8Array;
  }

  const newKey = async (alg = 'ES256'): Promise<ProofKey> => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    return { alg, privateKey, publicJwk: await exportJWK(publicKey) };
  };
  const nowSeconds = () => Math.floor(Date.now() / 1000);
  // Well-formed for this issuer's token endpoint unless overridden; `undefined` removes a member.
  const proofFor = (key: ProofKey, input: ProofInput = {}): Promise<string> => {
    const claims: JWTPayload = {
      jti: crypto.randomUUID(),
      htm: 'POST',
      htu: issuer.tokenEndpoint,
      iat: nowSeconds(),
      ...input.claims,
    };
    return new SignJWT(claims)
      .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...input.header })
      .sign(input.signWith ?? key.privateKey);
  };
  const withProof = (clientId: string, proof: string | string[]) =>
    postToken(
      issuer,
      { grant_type: 'client_credentials' },
      {
        authorization: basic(clientId, secretOf(clientId)),
        dpop: Array.isArray(proof) ? proof.join(', ') : proof,
      },
    );
  const verify = (token: string) =>
    jwtVerify(token, createRemoteJWKSet(new URL(issuer.jwksUri)), {
      issuer: issuer.issuer,
      audience: DEFAULT_AUDIENCE,
      typ: 'at+jwt',
    });
  const expectInvalidProof = async (response: Response) => {
    expect(response.status).toBe(400);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await readJson(response)).toMatchObject({ error: 'invalid_dpop_proof' });
  };

  it.each(['ES256', 'PS256', 'EdDSA'])(
    'binds the token to a valid %s proof key: cnf.jkt is its RFC 7638 thumbprint',
    async (alg) => {
      const key = await newKey(alg);
      const response = await withProof('catalog-reader', await proofFor(key));
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = await readJson(response);
      expect(body).toMatchObject({ token_type: 'DPoP', expires_in: 900, scope: 'orders:read' });
      const { payload, protectedHeader } = await verify(String(body.access_token));
      expect(protectedHeader.typ).toBe('at+jwt');
      expect(payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(key.publicJwk, 'sha256') });
      expect(payload).toMatchObject({ sub: 'catalog-reader', scope: 'orders:read' });
    },
  );

  it('issues a Bearer token without cnf when no proof is sent', async () => {
    const body = await readJson(await requestToken(issuer, 'catalog-reader'));
    expect(body.token_type).toBe('Bearer');
    expect(decodeJwt(String(body.access_token))).not.toHaveProperty('cnf');
  });

  it('accepts an htu that differs only by query or normalisation', async () => {
    const key = await newKey();
    const loud = issuer.tokenEndpoint.replace('http://', 'HTTP://').replace(/\/token$/, '/./token');
    for (const htu of [`${issuer.tokenEndpoint}?x=1`, loud]) {
      const response = await withProof('catalog-reader', await proofFor(key, { claims: { htu } }));
      expect(response.status).toBe(200);
    }
  });

  it.each<[string, (key: ProofKey) => Promise<string>]>([
    ['typ JWT', (key) => proofFor(key, { header: { typ: 'JWT' } })],
    ['no typ', (key) => proofFor(key, { header: { typ: undefined } })],
    [
      'typ application/dpop+jwt',
      (key) => proofFor(key, { header: { typ: 'application/dpop+jwt' } }),
    ],
    ['no jwk', (key) => proofFor(key, { header: { jwk: undefined } })],
    [
      'a private jwk',
      async (key) => proofFor(key, { header: { jwk: await exportJWK(key.privateKey) } }),
    ],
    [
      'a symmetric HS256 proof',
      (key) => {
        const secret = new Uint8Array(32).fill(7);
        const jwk = { kty: 'oct', k: Buffer.from(secret).toString('base64url') };
        return proofFor(key, { header: { alg: 'HS256', jwk }, signWith: secret });
      },
    ],
    [
      'a signature by another key than the jwk',
      async (key) => proofFor(key, { signWith: (await newKey()).privateKey }),
    ],
    ['htm GET', (key) => proofFor(key, { claims: { htm: 'GET' } })],
    ['htu of another endpoint', (key) => proofFor(key, { claims: { htu: issuer.jwksUri } })],
    [
      'htu on another origin',
      (key) => proofFor(key, { claims: { htu: 'https://idp.example/token' } }),
    ],
    ['no htu', (key) => proofFor(key, { claims: { htu: undefined } })],
    ['no jti', (key) => proofFor(key, { claims: { jti: undefined } })],
    ['an empty jti', (key) => proofFor(key, { claims: { jti: '' } })],
    ['no iat', (key) => proofFor(key, { claims: { iat: undefined } })],
    ['an iat 5 minutes old', (key) => proofFor(key, { claims: { iat: nowSeconds() - 300 } })],
    ['an iat 5 minutes ahead', (key) => proofFor(key, { claims: { iat: nowSeconds() + 300 } })],
    ['a string that is no JWT', () => Promise.resolve('not.a-proof')],
  ])('refuses a proof with %s: 400 invalid_dpop_proof', async (_name, make) => {
    await expectInvalidProof(await withProof('catalog-reader', await make(await newKey())));
  });

  it('refuses a replayed proof, and two proofs in one request', async () => {
    const key = await newKey();
    const proof = await proofFor(key);
    expect((await withProof('catalog-reader', proof)).status).toBe(200);
    await expectInvalidProof(await withProof('catalog-reader', proof));
    // A second client with the same proof is a replay too.
    await expectInvalidProof(await withProof('order-writer', proof));

    // fetch joins repeated headers; node:http sends them as separate lines, as an attacker can.
    const [first, second] = [await proofFor(key), await proofFor(key)];
    const answer = await new Promise<{ status: number; body: Json }>((resolve, reject) => {
      const req = request(issuer.tokenEndpoint, { method: 'POST' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()) as Json,
          }),
        );
      });
      req.on('error', reject);
      req.setHeader('content-type', 'application/x-www-form-urlencoded');
      req.setHeader('authorization', basic('catalog-reader', secretOf('catalog-reader')));
      req.setHeader('dpop', [first, second]);
      req.end('grant_type=client_credentials');
    });
    expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof' } });
    // Neither proof was spent by the refused request.
    expect((await withProof('catalog-reader', first)).status).toBe(200);
  });

  it('checks the proof only after the client authenticated, and does not spend it before', async () => {
    const key = await newKey();
    const proof = await proofFor(key);
    const stranger = await postToken(
      issuer,
      { grant_type: 'client_credentials' },
      { authorization: basic('catalog-reader', 'wrong'), dpop: proof },
    );
    expect(stranger.status).toBe(401);
    expect((await readJson(stranger)).error).toBe('invalid_client');
    await expectInvalidProof(await withProof('catalog-reader', 'garbage'));
    expect((await withProof('catalog-reader', proof)).status).toBe(200);
  });

  it('advertises the algorithms it accepts, asymmetric ones only', async () => {
    const metadata = await readJson(await fetch(`${issuer.url}/.well-known/openid-configuration`));
    const algs = metadata.dpop_signing_alg_values_supported as string[];
    expect(algs).toEqual(expect.arrayContaining(['ES256', 'PS256', 'RS256', 'EdDSA']));
    expect(algs.filter((alg) => alg.startsWith('HS') || alg === 'none')).toEqual([]);
  });
});

describe('mint()', () => {
  it('returns the token /token would, without HTTP', async () => {
    const token = await issuer.mint('order-writer', { scope: ['orders:write'] });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(issuer.jwksUri)), {
      issuer: issuer.issuer,
      audience: DEFAULT_AUDIENCE,
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: 'order-writer', scope: 'orders:write' });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
  });

  it.each([
    ['nobody', {}, 'invalid_client'],
    ['catalog-reader', { scope: 'admin' }, 'invalid_scope'],
    ['catalog-reader', { resource: 'https://other.example/' }, 'invalid_target'],
  ] as const)('refuses %s %j with %s', async (clientId, overrides, code) => {
    const refusal = issuer.mint(clientId, overrides);
    await expect(refusal).rejects.toBeInstanceOf(DevIssuerError);
    await expect(refusal).rejects.toMatchObject({ name: 'DevIssuerError', code });
  });

  it('binds the token to a DPoP key thumbprint when asked', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const jkt = await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
    expect(decodeJwt(await issuer.mint('catalog-reader', { dpopJkt: jkt })).cnf).toEqual({ jkt });
    await expect(issuer.mint('catalog-reader', { dpopJkt: 'not-a-thumbprint' })).rejects.toThrow(
      '"dpopJkt"',
    );
  });
});

describe('HTTP hygiene', () => {
  it('answers 413 to a body over 16 KiB, declared or chunked', async () => {
    const large = `grant_type=client_credentials&pad=${'a'.repeat(20 * 1024)}`;
    const declared = await postToken(issuer, { grant_type: 'client_credentials', pad: large });
    expect(declared.status).toBe(413);
    expect((await readJson(declared)).error).toBe('invalid_request');

    const chunks = [Buffer.from(large.slice(0, 10_000)), Buffer.from(large.slice(10_000))];
    const chunked = await fetch(issuer.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new ReadableStream({
        pull(controller) {
          const chunk = chunks.shift();
          if (chunk === undefined) controller.close();
          else controller.enqueue(chunk);
        },
      }),
      duplex: 'half',
    });
    expect(chunked.status).toBe(413);
  });

  it('takes only POST at /token and only GET or HEAD elsewhere', async () => {
    const get = await fetch(issuer.tokenEndpoint);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await readJson(get)).error).toBe('invalid_request');

    const post = await fetch(issuer.jwksUri, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await post.arrayBuffer();

    const head = await fetch(issuer.jwksUri, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('answers 404 JSON for unknown paths', async () => {
    const response = await fetch(`${issuer.url}/authorize?response_type=code`);
    expect(response.status).toBe(404);
    expect(await readJson(response)).toEqual({ error: 'not_found' });
  });

  it.each<[string, { body?: string | Buffer; headers?: Record<string, string> }]>([
    ['invalid UTF-8', { body: Buffer.from([0x67, 0xff, 0xfe]) }],
    ['broken percent-encoding', { body: 'grant_type=%E0%A4%A&client_id=%' }],
    ['a content type with parameters', { headers: { 'content-type': 'x; charset=utf-8;;' } }],
    [
      'non-UTF-8 Basic',
      { headers: { authorization: `Basic ${Buffer.from([0xff, 0x3a, 0x61]).toString('base64')}` } },
    ],
    ['a broken percent in Basic', { headers: { authorization: `Basic ${btoa('%zz:%')}` } }],
    ['a huge scope', { body: `grant_type=client_credentials&scope=${'s '.repeat(4000)}` }],
    ['an empty body', { body: '' }],
  ])('never answers 5xx to %s', async (_name, init) => {
    const response = await fetch(issuer.tokenEndpoint, {
      method: 'POST',
      body: init.body ?? 'grant_type=client_credentials',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...init.headers },
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    await response.arrayBuffer();
  });

  it('validates its options at construction', async () => {
    await expect(createDevIssuer({ port: -1 })).rejects.toThrow('"port"');
    await expect(createDevIssuer({ tokenLifetimeSeconds: 0 })).rejects.toThrow(
      '"tokenLifetimeSeconds"',
    );
    await expect(createDevIssuer({ audience: [] })).rejects.toThrow('"audience"');
    await expect(createDevIssuer({ issuerUrl: 'https://idp.example/?x=1' })).rejects.toThrow(
      '"issuerUrl"',
    );
    const twin: DevClient = { clientId: 'twin', clientSecret: 's', scopes: ['x'] };
    await expect(createDevIssuer({ clients: [twin, twin] })).rejects.toThrow('repeats');
    await expect(
      createDevIssuer({ clients: [{ ...twin, scopes: ['two words'] }] }),
    ).rejects.toThrow('"clients[0].scopes"');
  });
});
