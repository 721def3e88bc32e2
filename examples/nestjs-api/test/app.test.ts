import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import {
  createDpopKey,
  createDpopProof,
  createTokenFactory,
  startKeyServer,
  testKeys,
  type DpopKey,
  type KeyServer,
} from '@jwt-guard/testkit';
import { createOrdersApp } from '../src/index.js';

const audience = 'https://api.example/';
// What DPoP proofs name in htu; supertest reaches the app on loopback under another name, and
// the guard never builds htu from the request's Host.
const publicOrigin = 'https://orders.example';
const DPOP = 'DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"';
const keys = testKeys();
const NOT_A_JSON_OBJECT = {
  error: 'invalid_request',
  message: 'the body must be a JSON object sent as application/json',
};
// RFC 9449 §7.1: an API that takes DPoP says so in every challenge, with the algorithms.
const MISSING = { status: 401, challenge: `Bearer, ${DPOP}`, body: { code: 'ERR_TOKEN_MISSING' } };
const lacking = (scope: string) => ({
  status: 403,
  challenge: `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="${scope}", ${DPOP}`,
  body: { error: 'insufficient_scope', code: 'ERR_SCOPE_INSUFFICIENT' },
});

interface Call {
  readonly token?: string;
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

describe('orders API on NestJS', () => {
  let issuer: KeyServer;
  let app: INestApplication<Server>;
  let token: (scope: string, claims?: Record<string, unknown>) => string;
  beforeAll(async () => {
    issuer = await startKeyServer({ keys: [keys.ES256] });
    // The real clock: the API trusts its issuer with the guard's defaults.
    const mint = createTokenFactory({
      issuer: issuer.issuer,
      audience,
      clock: { nowMs: () => Date.now() },
    });
    token = (scope, claims = {}) => mint.sign(keys.ES256, { scope, ...claims });
    app = await createOrdersApp({ issuer: issuer.issuer, audience, publicOrigin });
    await app.init();
  });
  afterAll(async () => {
    await app.close();
    await issuer.close();
  });
  const server = () => app.getHttpServer();
  const auth = (value: string) => ({ Authorization: `Bearer ${value}` });

  async function call(path: string, options: Call = {}): Promise<Answer> {
    let pending = request(server()).post(path);
    if (options.token !== undefined) pending = pending.set(auth(options.token));
    const contentType =
      options.contentType ?? (options.json === undefined ? undefined : 'application/json');
    if (contentType !== undefined) pending = pending.set('Content-Type', contentType);
    const body = options.json === undefined ? options.body : JSON.stringify(options.json);
    const res = await (body === undefined ? pending : pending.send(body));
    let parsed: unknown = res.text;
    try {
      parsed = JSON.parse(res.text);
    } catch {
      // Not JSON: kept as text, so a failing assertion shows what came back.
    }
    const challenge: string | undefined = res.headers['www-authenticate'];
    return { status: res.status, challenge: challenge ?? null, body: parsed, text: res.text };
  }

  it('serves the catalogue without a token', async () => {
    const res = await request(server()).get('/catalog').expect(200);
    expect(res.body).toHaveLength(2);
  });

  it('lists and places orders by scope', async () => {
    await request(server())
      .get('/orders')
      .expect(401)
      .expect('WWW-Authenticate', `Bearer, ${DPOP}`);
    await request(server())
      .post('/orders')
      .set(auth(token('orders:read')))
      .send({ item: 'tea-sencha', quantity: 1 })
      .expect(403);
    await request(server())
      .post('/orders')
      .set(auth(token('orders:write')))
      .send({ item: 'tea-sencha', quantity: 2 })
      .expect(201, { id: 1, item: 'tea-sencha', quantity: 2, placedBy: 'user-1' });
    await request(server())
      .post('/orders')
      .set(auth(token('orders:write')))
      .send({ item: 'tea-sencha', quantity: 0 })
      .expect(400);
    await request(server())
      .get('/orders')
      .set(auth(token('orders:read')))
      .expect(200, [{ id: 1, item: 'tea-sencha', quantity: 2, placedBy: 'user-1' }]);
  });

  it('lets an admin revoke a token, which is refused from then on', async () => {
    const victim = token('orders:read', { jti: 'victim-1' });
    await request(server()).get('/orders').set(auth(victim)).expect(200);
    await request(server())
      .post('/admin/revocations')
      .set(auth(token('orders:read')))
      .send({ token: victim })
      .expect(403);
    await request(server())
      .post('/admin/revocations')
      .set(auth(token('admin')))
      .send({ token: 'abc.def' })
      .expect(400, { error: 'invalid_target_token', code: 'ERR_TOKEN_MALFORMED' });
    await request(server())
      .post('/admin/revocations')
      .set(auth(token('admin')))
      .send({ token: victim })
      .expect(200, { revoked: 'victim-1' });
    const res = await request(server()).get('/orders').set(auth(victim)).expect(401);
    expect(res.body).toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
  });

  describe.each([
    ['/orders', 'orders:write'],
    ['/admin/revocations', 'admin'],
  ])('POST %s with a body that is not a JSON object', (path, scope) => {
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
      const answer = await call(path, { token: token(scope), ...options });
      expect(answer).toMatchObject({ status: 400, challenge: null, body: NOT_A_JSON_OBJECT });
    });

    it('over 16 KiB → 413', async () => {
      const answer = await call(path, {
        token: token(scope),
        json: { item: 'x'.repeat(17 * 1024), quantity: 1 },
      });
      expect(answer).toMatchObject({
        status: 413,
        body: { error: 'invalid_request', message: 'the body is larger than 16 KiB' },
      });
    });

    // The body is only read once the caller is known to have the route's scope.
    it('without a token → 401 before the body is looked at', async () => {
      expect(await call(path, { json: null })).toMatchObject(MISSING);
    });

    it('without the scope → 403 before the body is looked at', async () => {
      expect(await call(path, { token: token('orders:read'), json: null })).toMatchObject(
        lacking(scope),
      );
    });
  });

  it('answers a malformed body holding a token without echoing or logging it', async () => {
    const secret = token('orders:write');
    // JSON.parse quotes the text around the error: here, the end of the token's signature.
    const tail = secret.slice(-10);
    const written: string[] = [];
    const record = (...chunks: unknown[]) => {
      written.push(chunks.map(String).join(' '));
      return true;
    };
    // Nest's logger writes errors to stderr and warnings to stdout.
    const spies = [
      jest.spyOn(console, 'error').mockImplementation(record),
      jest.spyOn(console, 'warn').mockImplementation(record),
      jest.spyOn(process.stderr, 'write').mockImplementation(record),
      jest.spyOn(process.stdout, 'write').mockImplementation(record),
    ];
    let answer: Answer;
    try {
      answer = await call('/admin/revocations', {
        token: token('admin'),
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

  describe('DPoP (RFC 9449) on GET /invoices', () => {
    let key: DpopKey;
    let bound: string;
    beforeAll(async () => {
      key = await createDpopKey();
      bound = token('orders:read orders:write', {
        sub: 'dpop-client',
        cnf: { jkt: key.thumbprint },
      });
    });
    const proof = (method: string, path: string, signer: DpopKey = key) =>
      createDpopProof(signer, { htm: method, htu: `${publicOrigin}${path}`, accessToken: bound });
    const withDpop = (value: string) => ({ Authorization: `DPoP ${bound}`, DPoP: value });
    const refusal = async (headers: Record<string, string>, code: string, scheme: string) => {
      const res = await request(server()).get('/invoices').set(headers).expect(401);
      expect(res.body).toMatchObject({ code });
      expect(res.headers['www-authenticate']).toMatch(new RegExp(`^${scheme} error="`));
      expect(res.headers['www-authenticate']).toContain('algs="');
    };

    it('accepts the bound token with a fresh proof, on /orders as on /invoices', async () => {
      await request(server())
        .post('/orders')
        .set(withDpop(proof('POST', '/orders')))
        .send({ item: 'tea-sencha', quantity: 3 })
        .expect(201);
      const res = await request(server())
        .get('/invoices')
        .set(withDpop(proof('GET', '/invoices')))
        .expect(200);
      expect(res.body).toMatchObject([{ item: 'tea-sencha', quantity: 3, total: 26.7 }]);
    });

    it('refuses a bearer token, the bound token as Bearer, another key, another path', async () => {
      await refusal(
        { Authorization: `Bearer ${token('orders:read')}` },
        'ERR_DPOP_REQUIRED',
        'DPoP',
      );
      await refusal({ Authorization: `Bearer ${bound}` }, 'ERR_DPOP_BINDING_MISMATCH', 'Bearer');
      const other = await createDpopKey();
      await refusal(
        withDpop(proof('GET', '/invoices', other)),
        'ERR_DPOP_BINDING_MISMATCH',
        'DPoP',
      );
      await refusal(withDpop(proof('GET', '/orders')), 'ERR_DPOP_PROOF_INVALID', 'DPoP');
    });

    it('refuses a replayed proof', async () => {
      const captured = proof('GET', '/invoices');
      await request(server()).get('/invoices').set(withDpop(captured)).expect(200);
      await refusal(withDpop(captured), 'ERR_DPOP_PROOF_REPLAYED', 'DPoP');
    });
  });
});
