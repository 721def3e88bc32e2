import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createTokenFactory, startKeyServer, testKeys, type KeyServer } from '@jwt-guard/testkit';
import { createOrdersApp } from '../src/index.js';

const audience = 'https://api.example/';
const keys = testKeys();

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
    app = await createOrdersApp({ issuer: issuer.issuer, audience });
    await app.init();
  });
  afterAll(async () => {
    await app.close();
    await issuer.close();
  });
  const server = () => app.getHttpServer();
  const auth = (value: string) => ({ Authorization: `Bearer ${value}` });

  it('serves the catalogue without a token', async () => {
    const res = await request(server()).get('/catalog').expect(200);
    expect(res.body).toHaveLength(2);
  });

  it('lists and places orders by scope', async () => {
    await request(server()).get('/orders').expect(401).expect('WWW-Authenticate', 'Bearer');
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
});
