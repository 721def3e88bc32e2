// The jwt-guard demo: a dev issuer and the orders API on Express, Koa and NestJS, all on
// 127.0.0.1, then a scripted walk through what each API allows and refuses.
//   pnpm demo          run the scenario, print each request and answer, exit 0 if every status,
//                      error code and challenge is the expected one
//   pnpm demo --serve  keep everything running and print ready-to-paste curl commands
// With REDIS_URL set, the three APIs share revocations through Redis, like a fleet: a token
// revoked through one API is refused by all of them.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { createDevIssuer } from '../examples/dev-issuer/dist/index.js';
import { createOrdersApp as createExpressApp } from '../examples/express-api/dist/index.js';
import { createOrdersApp as createKoaApp } from '../examples/koa-api/dist/index.js';
import { createOrdersApp as createNestApp } from '../examples/nestjs-api/dist/index.js';

const AUDIENCE = 'https://api.example/';
const serve = process.argv.includes('--serve');
const color = process.stdout.isTTY
  ? (code, text) => `\x1b[${code}m${text}\x1b[0m`
  : (_code, text) => text;
const dim = (text) => color(2, text);

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
async function listenNest(app) {
  await app.listen(0, '127.0.0.1');
  return app.getHttpServer();
}
const urlOf = (server) => `http://127.0.0.1:${server.address().port}`;

// One Redis connection and store per API, as separate instances of a fleet would have.
const redisUrl = process.env.REDIS_URL;
const redisStores = [];
async function storeForApi() {
  if (redisUrl === undefined) return undefined;
  const { createRedisStore } = await import('../packages/redis/dist/index.js');
  const { Redis } = createRequire(new URL('../packages/redis/package.json', import.meta.url))(
    'ioredis',
  );
  const client = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const store = createRedisStore({ client, keyPrefix: `jwt-guard-demo:${process.pid}:` });
  await store.ready();
  redisStores.push({ store, client });
  return store;
}

const issuer = await createDevIssuer({ audience: AUDIENCE });
const options = async () => ({
  issuer: issuer.issuer,
  audience: AUDIENCE,
  store: await storeForApi(),
});
const apis = [
  { name: 'Express', server: await listen(createServer(createExpressApp(await options()))) },
  { name: 'Koa', server: await listen(createServer(createKoaApp(await options()).callback())) },
  { name: 'NestJS', server: await listenNest(await createNestApp(await options())) },
];

async function stopAll() {
  for (const api of apis) api.server.close();
  for (const { store, client } of redisStores) {
    await store.close();
    client.disconnect();
  }
  await issuer.close();
}
const secretOf = (clientId) =>
  issuer.clients.find((client) => client.clientId === clientId).clientSecret;

async function tokenFor(clientId) {
  const res = await fetch(issuer.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secretOf(clientId)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`the issuer refused ${clientId}: ${JSON.stringify(body)}`);
  return body;
}

if (serve) {
  console.log(
    `dev issuer      ${issuer.issuer}   (clients: ${issuer.clients.map((c) => c.clientId).join(', ')})`,
  );
  for (const api of apis) console.log(`orders API      ${urlOf(api.server)}   (${api.name})`);
  const [express] = apis;
  console.log(`\nGet a token (client credentials), then call the API with it:\n
  TOKEN=$(curl -s -u catalog-reader:${secretOf('catalog-reader')} -d grant_type=client_credentials ${issuer.tokenEndpoint} | node -p 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -i ${urlOf(express.server)}/catalog
  curl -i -H "Authorization: Bearer $TOKEN" ${urlOf(express.server)}/orders
  curl -i -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"item":"tea-sencha","quantity":1}' ${urlOf(express.server)}/orders
  (the last one is 403: catalog-reader lacks orders:write)

Other clients: order-writer (orders:read orders:write), admin-console (admin: POST /admin/revocations {"token":"…"}),
rsa-client (RS256), expired-demo (expired tokens). Secrets: <client-id>-dev-secret. Ctrl-C stops.`);
  const stop = async () => {
    await stopAll();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} else {
  const outcomes = [];
  const reader = await tokenFor('catalog-reader');
  const writer = await tokenFor('order-writer');
  const admin = await tokenFor('admin-console');
  const expired = await tokenFor('expired-demo');
  console.log(`dev issuer ${issuer.issuer}`);
  for (const [client, token] of [
    ['catalog-reader', reader],
    ['order-writer', writer],
    ['admin-console', admin],
    ['expired-demo', expired],
  ]) {
    console.log(
      `  token issued to ${client.padEnd(15)} scope "${token.scope}", expires_in ${token.expires_in} s`,
    );
  }

  const [header, payload, signature] = reader.access_token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const widened = Buffer.from(
    JSON.stringify({ ...claims, scope: 'orders:read orders:write' }),
  ).toString('base64url');
  const tampered = `${header}.${widened}.${signature}`;
  const unsigned = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${payload}.`;

  // What an answer must be: a status, and for a refusal the stable code in the body and the
  // RFC 6750 challenge's error attribute (plus scope= on a 403). A refusal for the wrong reason
  // (an expired token answered as a bad signature) is as wrong as a wrong status.
  const success = (status) => ({ status });
  const refused = (status, code, error, scope) => ({ status, code, error, scope });

  // RFC 6750 §3: `Bearer` followed by comma-separated auth-params, values quoted.
  const challengeOf = (header) => {
    if (header === null) return undefined;
    const match = /^Bearer(?:\s+(.*))?$/i.exec(header);
    if (match === null) return { scheme: header, attributes: {} };
    const attributes = {};
    for (const [, name, value] of (match[1] ?? '').matchAll(/([\w-]+)="((?:[^"\\]|\\.)*)"/g)) {
      attributes[name] = value;
    }
    return { scheme: 'Bearer', attributes };
  };

  const mismatches = (expected, status, body, challenge) => {
    const wrong = [];
    if (status !== expected.status) wrong.push(`status ${expected.status}, got ${status}`);
    if (expected.code !== undefined && body?.code !== expected.code) {
      wrong.push(`code ${expected.code}, got ${body?.code ?? 'none'}`);
    }
    if (expected.status === 401 || expected.status === 403) {
      const error = challenge?.attributes.error;
      if (challenge?.scheme !== 'Bearer') {
        wrong.push('a Bearer challenge, got none');
      } else if (error !== expected.error) {
        const show = (value) => (value === undefined ? 'no error attribute' : `error="${value}"`);
        wrong.push(`${show(expected.error)}, got ${show(error)}`);
      }
      if (expected.scope !== undefined && challenge?.attributes.scope !== expected.scope) {
        const scope = challenge?.attributes.scope;
        wrong.push(
          `scope="${expected.scope}", got ${scope === undefined ? 'none' : `scope="${scope}"`}`,
        );
      }
    } else if (challenge !== undefined) {
      wrong.push('no challenge, got one');
    }
    return wrong;
  };

  const stepOn = (api) => async (expected, title, method, path, token, body) => {
    const headers = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${urlOf(api.server)}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON: no code to compare, which only matters if one was expected.
    }
    const header = res.headers.get('www-authenticate');
    const wrong = mismatches(expected, res.status, json, challengeOf(header));
    outcomes.push(wrong.length === 0);
    const answer = [res.status, json?.code].filter((part) => part !== undefined).join(' ');
    console.log(
      `${wrong.length === 0 ? color(32, '✔') : color(31, '✘')} ${answer}  ${method} ${path}  ${dim(`— ${title}`)}`,
    );
    for (const line of wrong) console.log(color(31, `      expected ${line}`));
    if (header) console.log(dim(`      WWW-Authenticate: ${header}`));
    console.log(dim(`      ${text.length > 140 ? `${text.slice(0, 137)}...` : text}`));
  };
  const order = { item: 'tea-sencha', quantity: 1 };

  for (const api of apis) {
    console.log(`\n${color(1, `── orders API on ${api.name}`)} ${dim(urlOf(api.server))}`);
    const step = stepOn(api);
    await step(success(200), 'the catalogue is public', 'GET', '/catalog');
    await step(refused(401, 'ERR_TOKEN_MISSING'), 'no token', 'GET', '/orders');
    await step(
      success(200),
      'catalog-reader has orders:read',
      'GET',
      '/orders',
      reader.access_token,
    );
    await step(
      refused(403, 'ERR_SCOPE_INSUFFICIENT', 'insufficient_scope', 'orders:write'),
      'catalog-reader lacks orders:write',
      'POST',
      '/orders',
      reader.access_token,
      order,
    );
    await step(
      success(201),
      'order-writer may place an order',
      'POST',
      '/orders',
      writer.access_token,
      order,
    );
    await step(
      refused(401, 'ERR_TOKEN_EXPIRED', 'invalid_token'),
      'an expired token',
      'GET',
      '/orders',
      expired.access_token,
    );
    await step(
      refused(401, 'ERR_SIGNATURE_INVALID', 'invalid_token'),
      'scope widened by editing the payload',
      'POST',
      '/orders',
      tampered,
      order,
    );
    await step(
      refused(401, 'ERR_TOKEN_MALFORMED', 'invalid_token'),
      'alg: none, no signature',
      'GET',
      '/orders',
      unsigned,
    );
    await step(
      refused(403, 'ERR_SCOPE_INSUFFICIENT', 'insufficient_scope', 'admin'),
      'catalog-reader cannot revoke',
      'POST',
      '/admin/revocations',
      reader.access_token,
      {
        token: writer.access_token,
      },
    );
  }

  // Each API keeps its own revocations in memory; with Redis one revocation reaches them all.
  console.log(
    `\n${color(1, `── revoking the order-writer token`)} ${dim(redisUrl === undefined ? '(memory store: each API revokes it)' : '(shared Redis store: once, through the first API)')}`,
  );
  for (const api of redisUrl === undefined ? apis : apis.slice(0, 1)) {
    await stepOn(api)(
      success(200),
      `admin-console revokes it on ${api.name}`,
      'POST',
      '/admin/revocations',
      admin.access_token,
      {
        token: writer.access_token,
      },
    );
  }
  for (const api of apis) {
    await stepOn(api)(
      refused(401, 'ERR_TOKEN_REVOKED', 'invalid_token'),
      `${api.name} refuses the revoked token`,
      'POST',
      '/orders',
      writer.access_token,
      order,
    );
  }

  await stopAll();
  const failed = outcomes.filter((ok) => !ok).length;
  console.log(
    failed === 0
      ? `\nall ${outcomes.length} answers were the expected ones`
      : `\n${failed} of ${outcomes.length} answers were not the expected ones`,
  );
  process.exitCode = failed === 0 ? 0 : 1;
}
