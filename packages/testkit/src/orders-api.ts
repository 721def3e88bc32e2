// The orders API of examples/express-api, examples/koa-api and examples/nestjs-api, through
// real HTTP on 127.0.0.1: the dev issuer mints the tokens and serves the keys, which the API
// finds by discovery, as in the demo. One suite for the three, so that an example cannot drift
// from the others in what it refuses, and how.
//
// The testkit may not import the examples: the harness hands in the dev issuer and the app.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { listenApp, type TestApp } from './app.js';
import { createDpopKey, createDpopProof, type DpopKey } from './dpop.js';
import type { LoopbackServer } from './http.js';

const AUDIENCE = 'https://api.example/';
// What DPoP proofs name in htu. The API listens on loopback under another name, as behind a
// proxy: the guard builds htu from this configured origin, never from the request's Host.
const PUBLIC_ORIGIN = 'https://orders.example';
const NOT_A_JSON_OBJECT = {
  error: 'invalid_request',
  message: 'the body must be a JSON object sent as application/json',
};
// RFC 9449 §7.1: an API that takes DPoP says so in every challenge, with the algorithms.
const DPOP = 'DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"';
const MISSING = { status: 401, challenge: `Bearer, ${DPOP}`, body: { code: 'ERR_TOKEN_MISSING' } };
const lacking = (scope: string) => ({
  status: 403,
  challenge: `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="${scope}", ${DPOP}`,
  body: { error: 'insufficient_scope', code: 'ERR_SCOPE_INSUFFICIENT' },
});
// For `toEqual`: this status, no challenge, and exactly this JSON body (no extra members).
const answered = (status: number, body: unknown) => ({
  status,
  challenge: null,
  body,
  text: expect.any(String) as unknown,
});

/**
 * The dev issuer of examples/dev-issuer, as the orders suite uses it: its demo clients
 * `catalog-reader` (`orders:read`), `order-writer` (`orders:read orders:write`) and
 * `admin-console` (those and `admin`), each the `sub` of its tokens.
 *
 * @example
 * ```ts
 * const issuer: OrdersIssuer = await createDevIssuer({ audience: 'https://api.example/' });
 * const token = await issuer.mint('order-writer', { scope: 'orders:write' });
 * ```
 */
export interface OrdersIssuer {
  /** The `iss` of its tokens; the API finds its keys by discovery from it. */
  readonly issuer: string;
  /** Its OAuth 2.0 token endpoint, taking client credentials and DPoP proofs. */
  readonly tokenEndpoint: string;
  /** The token `/token` would issue to this client, minted in process. */
  mint(
    clientId: string,
    overrides?: { readonly scope?: string; readonly dpopJkt?: string },
  ): Promise<string>;
  close(): Promise<void>;
}

/**
 * What an orders example is created with.
 *
 * @example
 * ```ts
 * const options: OrdersAppOptions = {
 *   issuer: 'http://127.0.0.1:4000',
 *   audience: 'https://api.example/',
 *   publicOrigin: 'https://orders.example',
 * };
 * ```
 */
export interface OrdersAppOptions {
  readonly issuer: string;
  readonly audience: string;
  /** The origin DPoP proofs name in `htu`, not the loopback address the tests call. */
  readonly publicOrigin: string;
}

/**
 * One framework's orders example in the orders suite.
 *
 * @example
 * ```ts
 * const harness: OrdersApiHarness = {
 *   createIssuer: createDevIssuer,
 *   createApp: (options) => Promise.resolve({ server: createServer(createOrdersApp(options)) }),
 * };
 * ```
 */
export interface OrdersApiHarness {
  /** Starts the dev issuer for this audience: examples/dev-issuer's `createDevIssuer`. */
  createIssuer(options: { readonly audience: string }): Promise<OrdersIssuer>;
  /** The example's orders app with these options; its server is not listening yet. */
  createApp(options: OrdersAppOptions): Promise<TestApp>;
}

interface Call {
  readonly token?: string;
  /** How the token is sent; default Bearer. */
  readonly scheme?: 'Bearer' | 'DPoP';
  /** A DPoP proof (RFC 9449 §4), sent as the `DPoP` header. */
  readonly proof?: string;
  /** Sent verbatim; with `json`, serialized and sent as application/json. */
  readonly body?: string;
  readonly json?: unknown;
  readonly contentType?: string;
}

interface Answer {
  readonly status: number;
  readonly challenge: string | null;
  readonly body: unknown;
  readonly text: string;
}

/**
 * Declares the orders API's tests in the current describe block: the dev issuer and the app,
 * started in its `beforeAll` and closed in its `afterAll`; scopes, per-caller orders,
 * revocation, bodies that are not JSON objects, and DPoP on `/invoices`. The tests of a block
 * share one app, whose order ids they count on: run them in the order declared.
 *
 * @example
 * ```ts
 * describe('orders API on Koa', () => ordersApiTests(harness));
 * ```
 */
export function ordersApiTests(harness: OrdersApiHarness): void {
  let issuer: OrdersIssuer;
  let api: LoopbackServer;

  beforeAll(async () => {
    issuer = await harness.createIssuer({ audience: AUDIENCE });
    const options = { issuer: issuer.issuer, audience: AUDIENCE, publicOrigin: PUBLIC_ORIGIN };
    api = await listenApp(await harness.createApp(options));
  });
  afterAll(async () => {
    await api.close();
    await issuer.close();
  });

  async function call(method: string, path: string, options: Call = {}): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) {
      headers.authorization = `${options.scheme ?? 'Bearer'} ${options.token}`;
    }
    if (options.proof !== undefined) headers.dpop = options.proof;
    const contentType =
      options.contentType ?? (options.json === undefined ? undefined : 'application/json');
    if (contentType !== undefined) headers['content-type'] = contentType;
    const res = await fetch(`${api.origin}${path}`, {
      method,
      headers,
      body: options.json === undefined ? options.body : JSON.stringify(options.json),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: kept as text, so a failing assertion shows what came back.
    }
    return { status: res.status, challenge: res.headers.get('www-authenticate'), body, text };
  }

  const mint = (clientId: string) => issuer.mint(clientId);

  it('serves the catalogue without a token', async () => {
    const answer = await call('GET', '/catalog');
    expect(answer).toMatchObject({ status: 200, challenge: null });
    expect(answer.body).toHaveLength(2);
  });

  it('keeps each route to its scope and each caller to its own orders', async () => {
    const reader = await mint('catalog-reader');
    const writer = await mint('order-writer');
    const order = { item: 'tea-sencha', quantity: 2 };

    expect(await call('GET', '/orders')).toMatchObject(MISSING);
    expect(await call('GET', '/orders', { token: reader })).toEqual(answered(200, []));
    expect(await call('POST', '/orders', { token: reader, json: order })).toMatchObject(
      lacking('orders:write'),
    );
    const placed = { id: 1, ...order, placedBy: 'order-writer' };
    expect(await call('POST', '/orders', { token: writer, json: order })).toEqual(
      answered(201, placed),
    );
    expect(
      await call('POST', '/orders', { token: writer, json: { item: 'tea-sencha', quantity: 0 } }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_order' } });
    expect(await call('GET', '/orders', { token: writer })).toEqual(answered(200, [placed]));
    // The order is the writer's: another subject with orders:read does not see it.
    expect(await call('GET', '/orders', { token: reader })).toEqual(answered(200, []));
  });

  it('lets only an admin revoke a token, which is refused from then on', async () => {
    const victim = await mint('order-writer');
    const admin = await mint('admin-console');
    expect(await call('GET', '/orders', { token: victim })).toMatchObject({ status: 200 });
    expect(
      await call('POST', '/admin/revocations', {
        token: await mint('order-writer'),
        json: { token: victim },
      }),
    ).toMatchObject(lacking('admin'));
    expect(
      await call('POST', '/admin/revocations', { token: admin, json: { token: 'abc.def' } }),
    ).toEqual(answered(400, { error: 'invalid_target_token', code: 'ERR_TOKEN_MALFORMED' }));

    const revoked = await call('POST', '/admin/revocations', {
      token: admin,
      json: { token: victim },
    });
    const { jti } = JSON.parse(Buffer.from(victim.split('.')[1] ?? '', 'base64url').toString()) as {
      jti: string;
    };
    expect(revoked).toEqual(answered(200, { revoked: jti }));
    expect(await call('GET', '/orders', { token: victim })).toMatchObject({
      status: 401,
      challenge: `Bearer error="invalid_token", error_description="The access token was revoked", ${DPOP}`,
      body: { error: 'invalid_token', code: 'ERR_TOKEN_REVOKED' },
    });
    expect(await call('GET', '/orders', { token: await mint('order-writer') })).toMatchObject({
      status: 200,
    });
  });

  describe.each([
    ['/orders', 'orders:write'],
    ['/admin/revocations', 'admin'],
  ])('POST %s with a body that is not a JSON object', (path, scope) => {
    // The route's scope and nothing more, so the answer owes nothing to another scope.
    const withScope = () => issuer.mint('admin-console', { scope });
    const cases: [string, Call][] = [
      ['no body', {}],
      ['JSON null', { json: null }],
      ['a JSON array', { json: [{ token: 'x' }] }],
      ['a JSON string', { json: 'tea-sencha' }],
      [
        'JSON sent as text/plain',
        { body: '{"item":"tea-sencha","quantity":1}', contentType: 'text/plain' },
      ],
      ['malformed JSON', { body: '{"item":', contentType: 'application/json' }],
    ];
    it.each(cases)('%s → 400 invalid_request', async (_name, options) => {
      const answer = await call('POST', path, { token: await withScope(), ...options });
      expect(answer).toMatchObject({ status: 400, challenge: null, body: NOT_A_JSON_OBJECT });
    });

    it('over 16 KiB → 413', async () => {
      const answer = await call('POST', path, {
        token: await withScope(),
        json: { item: 'x'.repeat(17 * 1024), quantity: 1 },
      });
      expect(answer).toMatchObject({
        status: 413,
        body: { error: 'invalid_request', message: 'the body is larger than 16 KiB' },
      });
    });

    // The body is only read once the caller is known to have the route's scope.
    it('without a token → 401 before the body is looked at', async () => {
      expect(await call('POST', path, { json: null })).toMatchObject(MISSING);
    });

    it('without the scope → 403 before the body is looked at', async () => {
      const token = await mint('catalog-reader');
      expect(await call('POST', path, { token, json: null })).toMatchObject(lacking(scope));
    });
  });

  it('answers a malformed body holding a token without echoing or logging it', async () => {
    const secret = await mint('order-writer');
    // JSON.parse quotes the text around the error: here, the end of the token's signature.
    const tail = secret.slice(-10);
    const written: string[] = [];
    const record = (...chunks: unknown[]) => {
      written.push(chunks.map(String).join(' '));
      return true;
    };
    // Express's final handler and Koa's default error handler log with console.error; Nest's
    // logger writes errors to stderr and warnings to stdout.
    const spies = [
      jest.spyOn(console, 'error').mockImplementation(record),
      jest.spyOn(console, 'warn').mockImplementation(record),
      jest.spyOn(process.stderr, 'write').mockImplementation(record),
      jest.spyOn(process.stdout, 'write').mockImplementation(record),
    ];
    let answer: Answer;
    try {
      answer = await call('POST', '/admin/revocations', {
        token: await mint('admin-console'),
        body: `{"token":"${secret}" oops}`,
        contentType: 'application/json',
      });
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(answer).toMatchObject({ status: 400, body: NOT_A_JSON_OBJECT });
    expect(answer.text).not.toContain(tail);
    expect(written).toEqual([]);
  });

  describe('DPoP (RFC 9449)', () => {
    const order = { item: 'tea-sencha', quantity: 3 };
    // A subject that places no other order, so that its invoices are exactly the one placed
    // here: none of another caller's orders may show.
    const holder = 'admin-console';
    let key: DpopKey;
    let bound: string;
    beforeAll(async () => {
      key = await createDpopKey();
      bound = await issuer.mint(holder, {
        scope: 'orders:read orders:write',
        dpopJkt: key.thumbprint,
      });
    });
    const proofFor = (method: string, path: string, token = bound, signer = key) =>
      createDpopProof(signer, { htm: method, htu: `${PUBLIC_ORIGIN}${path}`, accessToken: token });
    const withProof = (method: string, path: string, token = bound): Call => ({
      token,
      scheme: 'DPoP',
      proof: proofFor(method, path, token),
    });
    // The challenge naming the error comes first, in the scheme the token came with (DPoP for
    // errors about proofs); the DPoP challenge, with its algs, is always there.
    const refused = (code: string, error: string, scheme: 'Bearer' | 'DPoP') => ({
      status: 401,
      challenge: expect.stringMatching(
        new RegExp(`^${scheme} error="${error}", (?=.*algs="[^"]*ES256)`),
      ) as unknown,
      body: { error, code },
    });

    it('accepts a DPoP-bound token with a fresh proof, on /orders as on /invoices', async () => {
      expect(
        await call('POST', '/orders', { ...withProof('POST', '/orders'), json: order }),
      ).toEqual(answered(201, { id: expect.any(Number) as unknown, ...order, placedBy: holder }));
      expect(await call('GET', '/invoices', withProof('GET', '/invoices'))).toEqual(
        answered(200, [{ order: expect.any(Number) as unknown, ...order, total: 26.7 }]),
      );
      // The query is no part of htu (RFC 9449 §4.3).
      expect(await call('GET', '/invoices?page=1', withProof('GET', '/invoices'))).toMatchObject({
        status: 200,
      });
    });

    it('refuses a plain bearer token on /invoices with the DPoP challenge', async () => {
      expect(await call('GET', '/invoices', { token: await mint('order-writer') })).toMatchObject(
        refused('ERR_DPOP_REQUIRED', 'invalid_token', 'DPoP'),
      );
    });

    it.each<[string, () => Promise<Call> | Call, ReturnType<typeof refused>]>([
      [
        'the bound token sent as a Bearer token',
        () => ({ token: bound }),
        refused('ERR_DPOP_BINDING_MISMATCH', 'invalid_token', 'Bearer'),
      ],
      [
        'the bound token with a proof by another key',
        async () => ({
          token: bound,
          scheme: 'DPoP',
          proof: proofFor('GET', '/invoices', bound, await createDpopKey()),
        }),
        refused('ERR_DPOP_BINDING_MISMATCH', 'invalid_token', 'DPoP'),
      ],
      [
        'the bound token without a proof',
        () => ({ token: bound, scheme: 'DPoP' }),
        refused('ERR_DPOP_PROOF_MISSING', 'invalid_dpop_proof', 'DPoP'),
      ],
      [
        'a proof for another method',
        () => ({ token: bound, scheme: 'DPoP', proof: proofFor('POST', '/invoices') }),
        refused('ERR_DPOP_PROOF_INVALID', 'invalid_dpop_proof', 'DPoP'),
      ],
      [
        'a proof for another path',
        () => ({ token: bound, scheme: 'DPoP', proof: proofFor('GET', '/orders') }),
        refused('ERR_DPOP_PROOF_INVALID', 'invalid_dpop_proof', 'DPoP'),
      ],
      [
        'a proof naming the address the request was sent to instead of the public origin',
        () => ({
          token: bound,
          scheme: 'DPoP',
          proof: createDpopProof(key, {
            htm: 'GET',
            htu: `${api.origin}/invoices`,
            accessToken: bound,
          }),
        }),
        refused('ERR_DPOP_PROOF_INVALID', 'invalid_dpop_proof', 'DPoP'),
      ],
      [
        'a proof without ath',
        () => ({
          token: bound,
          scheme: 'DPoP',
          proof: createDpopProof(key, { htm: 'GET', htu: `${PUBLIC_ORIGIN}/invoices` }),
        }),
        refused('ERR_DPOP_PROOF_INVALID', 'invalid_dpop_proof', 'DPoP'),
      ],
      [
        'an unbound token sent with the DPoP scheme',
        async () => {
          const plain = await mint('order-writer');
          return { token: plain, scheme: 'DPoP', proof: proofFor('GET', '/invoices', plain) };
        },
        refused('ERR_DPOP_BINDING_MISMATCH', 'invalid_token', 'DPoP'),
      ],
    ])('refuses %s', async (_name, make, expected) => {
      expect(await call('GET', '/invoices', await make())).toMatchObject(expected);
    });

    it('refuses a replayed proof, then accepts a fresh one', async () => {
      const captured = withProof('GET', '/invoices');
      expect(await call('GET', '/invoices', captured)).toMatchObject({ status: 200 });
      expect(await call('GET', '/invoices', captured)).toMatchObject(
        refused('ERR_DPOP_PROOF_REPLAYED', 'invalid_dpop_proof', 'DPoP'),
      );
      expect(await call('GET', '/invoices', withProof('GET', '/invoices'))).toMatchObject({
        status: 200,
      });
    });

    it("takes a DPoP-bound token from the dev issuer's token endpoint", async () => {
      const client = await createDpopKey();
      const response = await fetch(issuer.tokenEndpoint, {
        method: 'POST',
        headers: {
          // The dev issuer's public demo secret (examples/dev-issuer/README.md).
          authorization: `Basic ${btoa('catalog-reader:catalog-reader-dev-secret')}`,
          'content-type': 'application/x-www-form-urlencoded',
          dpop: createDpopProof(client, { htm: 'POST', htu: issuer.tokenEndpoint }),
        },
        body: 'grant_type=client_credentials',
      });
      const body = (await response.json()) as { access_token: string; token_type: string };
      expect(body.token_type).toBe('DPoP');
      const token = body.access_token;
      expect(
        await call('GET', '/invoices', {
          token,
          scheme: 'DPoP',
          proof: proofFor('GET', '/invoices', token, client),
        }),
      ).toMatchObject({ status: 200, body: [] });
    });
  });
}
