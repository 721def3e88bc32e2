import express from 'express';
import request from 'supertest';
import { jwtGuard, requireScope } from '@jwt-guard/express';
import { createTestClock, createTokenFactory, testKeys } from '@jwt-guard/testkit';

const issuer = 'https://idp.example/';
const audience = 'https://api.example/';

describe('express smoke', () => {
  const keys = testKeys();
  const clock = createTestClock();
  const mint = createTokenFactory({ issuer, audience, clock });
  const app = express();
  app.use(jwtGuard({ issuer, audience, keys: keys.ES256.jwk, clock }));
  app.get('/items', requireScope('read:items'), (req, res) => {
    res.json({ sub: req.auth.subject });
  });

  it('accepts and refuses', async () => {
    await request(app)
      .get('/items')
      .set('Authorization', `Bearer ${mint.sign(keys.ES256, { scope: 'read:items' })}`)
      .expect(200, { sub: 'user-1' });
    const res = await request(app)
      .get('/items')
      .set('Authorization', `Bearer ${mint.sign(keys.ES256, { scope: 'read:itemsX' })}`)
      .expect(403);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="read:items"',
    );
    await request(app).get('/items').expect(401).expect('WWW-Authenticate', 'Bearer');
  });
});
