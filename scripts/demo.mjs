// The jwt-guard demo: a dev issuer and the orders API on Express, Koa and NestJS, all on
// 127.0.0.1, then a scripted walk through what each API allows and refuses, DPoP-bound tokens
// (RFC 9449) and their theft included.
//   pnpm demo          run the scenario, print each request and answer, exit 0 if every status,
//                      error code and challenge is the expected one
//   pnpm demo --serve  keep everything running and print ready-to-paste curl commands, and a
//                      Node script for a DPoP request (curl cannot sign proofs)
// With REDIS_URL set, the three APIs share revocations and spent DPoP proofs through Redis, like a
// fleet: a token revoked through one API is refused by all of them.
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
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
// An API's public origin is what DPoP clients put in htu, and it contains the port: so each
// server listens first, on a free port, and the API is built for the origin it got.
async function serveOnLoopback(name, start) {
  let handler = (_req, res) => res.writeHead(503).end();
  const server = await listen(createServer((req, res) => handler(req, res)));
  const started = await start({ ...(await options()), publicOrigin: urlOf(server) });
  handler = started.handler;
  return { name, server, close: started.close };
}
const apis = [
  await serveOnLoopback('Express', async (opts) => ({ handler: createExpressApp(opts) })),
  await serveOnLoopback('Koa', async (opts) => ({ handler: createKoaApp(opts).callback() })),
  await serveOnLoopback('NestJS', async (opts) => {
    const app = await createNestApp(opts);
    await app.init();
    return { handler: app.getHttpAdapter().getInstance(), close: () => app.close() };
  }),
];

async function stopAll() {
  for (const api of apis) {
    api.server.close();
    api.server.closeAllConnections();
    await api.close?.();
  }
  for (const { store, client } of redisStores) {
    await store.close();
    client.disconnect();
  }
  await issuer.close();
}
const secretOf = (clientId) =>
  issuer.clients.find((client) => client.clientId === clientId).clientSecret;

// A DPoP client (RFC 9449) in a few lines of node:crypto: its own key pair, and a proof per
// request, a JWT naming the method and URL (htm, htu), signed with the private key and carrying
// the public one. With the access token it also names its hash (ath).
function createDpopKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, jwk: publicKey.export({ format: 'jwk' }) };
}
const b64url = (value) => Buffer.from(value).toString('base64url');
function dpopProof(key, htm, htu, accessToken) {
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk };
  const claims = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000) };
  if (accessToken !== undefined) {
    claims.ath = createHash('sha256').update(accessToken).digest('base64url');
  }
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  // JWS ES256 signatures are the raw r‖s pair (RFC 7518 §3.4), not DER.
  const signature = sign('sha256', Buffer.from(input), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

// With a DPoP key, the request carries a proof for the token endpoint and the issuer binds the
// token to the key (cnf.jkt, token_type DPoP).
async function tokenFor(clientId, dpopKey) {
  const headers = {
    authorization: `Basic ${Buffer.from(`${clientId}:${secretOf(clientId)}`).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
  };
  if (dpopKey !== undefined) headers.dpop = dpopProof(dpopKey, 'POST', issuer.tokenEndpoint);
  const res = await fetch(issuer.tokenEndpoint, {
    method: 'POST',
    headers,
    body: 'grant_type=client_credentials',
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`the issuer refused ${clientId}: ${JSON.stringify(body)}`);
  return body;
}

// What a DPoP client does, as a shell command to paste: node:crypto only, no dependency.
function dpopSnippet(url) {
  const client = 'order-writer';
  return [
    "node --input-type=module <<'EOF'",
    "import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';",
    `const tokenEndpoint = '${issuer.tokenEndpoint}', url = '${url}';`,
    "const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });",
    "const jwk = publicKey.export({ format: 'jwk' }), b64 = (v) => Buffer.from(v).toString('base64url');",
    'const proof = (htm, htu, ath) => {',
    "  const input = b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk })) + '.' +",
    '    b64(JSON.stringify({ jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000), ath }));',
    "  return input + '.' + b64(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }));",
    '};',
    "const token = await (await fetch(tokenEndpoint, { method: 'POST', body: 'grant_type=client_credentials',",
    `  headers: { authorization: 'Basic ' + btoa('${client}:${secretOf(client)}'),`,
    "    'content-type': 'application/x-www-form-urlencoded', dpop: proof('POST', tokenEndpoint) } })).json();",
    "const ath = createHash('sha256').update(token.access_token).digest('base64url');",
    "const res = await fetch(url, { headers: { authorization: 'DPoP ' + token.access_token, dpop: proof('GET', url, ath) } });",
    'console.log(token.token_type, res.status, await res.text());',
    'EOF',
  ].join('\n');
}

if (serve) {
  console.log(
    `dev issuer      ${issuer.issuer}   (clients: ${issuer.clients.map((c) => c.clientId).join(', ')})`,
  );
  for (const api of apis) console.log(`orders API      ${urlOf(api.server)}   (${api.name})`);
  const [express] = apis;
  const api = urlOf(express.server);
  console.log(`\nGet a token (client credentials), then call the API with it:\n
  TOKEN=$(curl -s -u catalog-reader:${secretOf('catalog-reader')} -d grant_type=client_credentials ${issuer.tokenEndpoint} | node -p 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -i ${api}/catalog
  curl -i -H "Authorization: Bearer $TOKEN" ${api}/orders
  curl -i -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"item":"tea-sencha","quantity":1}' ${api}/orders
  (the last one is 403: catalog-reader lacks orders:write)
  curl -i -H "Authorization: Bearer $TOKEN" ${api}/invoices
  (401 ERR_DPOP_REQUIRED: the invoices want a DPoP-bound token)

Other clients: order-writer (orders:read orders:write), admin-console (admin: POST /admin/revocations {"token":"…"}),
rsa-client (RS256), expired-demo (expired tokens). Secrets: <client-id>-dev-secret.

DPoP: curl cannot sign the proof each request needs (a JWT by the client's own key, naming the
method, the URL and the token's hash). This script (node:crypto only) gets a token bound to a new
key for order-writer and reads the invoices with it; scripts/demo.mjs does the same in its DPoP steps.
`);
  console.log(dpopSnippet(`${api}/invoices`));
  console.log('\nCtrl-C stops.');
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
  // The DPoP client asks with a proof by its own key; the attacker has a key of its own too,
  // but not the client's.
  const clientKey = createDpopKey();
  const attackerKey = createDpopKey();
  const bound = await tokenFor('order-writer', clientKey);
  console.log(`dev issuer ${issuer.issuer}`);
  for (const [client, token] of [
    ['catalog-reader', reader],
    ['order-writer', writer],
    ['admin-console', admin],
    ['expired-demo', expired],
    ['order-writer', bound],
  ]) {
    const { cnf } = JSON.parse(Buffer.from(token.access_token.split('.')[1], 'base64url'));
    console.log(
      `  token issued to ${client.padEnd(15)} scope "${token.scope}", expires_in ${token.expires_in} s` +
        (cnf === undefined ? '' : `, token_type ${token.token_type}, bound to cnf.jkt ${cnf.jkt}`),
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
  // challenge's error attribute, on the right scheme (plus scope= on a 403). A refusal for the
  // wrong reason (an expired token answered as a bad signature) is as wrong as a wrong status.
  const success = (status) => ({ status });
  const refused = (status, code, error, scope) => ({
    status,
    code,
    error,
    scope,
    scheme: 'Bearer',
  });
  // A 401 whose error the DPoP challenge carries (RFC 9449 §7.1), or the Bearer one for a
  // DPoP-bound token sent as a Bearer token.
  const refusedAs = (scheme, code, error) => ({ status: 401, code, error, scheme });

  // RFC 9110 §11.6.1: one header may hold several challenges, `A x="1", y="2", B z="3"`; values
  // are quoted here. `undefined` for a header that does not parse.
  const challengesOf = (header) => {
    const challenges = [];
    for (const part of header?.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
      const param = /^\s*([\w-]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(part);
      if (param !== null && challenges.length > 0) {
        challenges.at(-1).attributes[param[1]] = param[2];
        continue;
      }
      const start = /^\s*([\w!#$%&'*+.^`|~-]+)(?:\s+([\w-]+)\s*=\s*"((?:[^"\\]|\\.)*)")?\s*$/.exec(
        part,
      );
      if (start === null) return undefined;
      const attributes = start[2] === undefined ? {} : { [start[2]]: start[3] };
      challenges.push({ scheme: start[1], attributes });
    }
    return challenges;
  };

  const mismatches = (expected, status, body, challenges) => {
    const wrong = [];
    if (status !== expected.status) wrong.push(`status ${expected.status}, got ${status}`);
    if (expected.code !== undefined && body?.code !== expected.code) {
      wrong.push(`code ${expected.code}, got ${body?.code ?? 'none'}`);
    }
    if (challenges === undefined) return [...wrong, 'a well-formed WWW-Authenticate'];
    if (expected.status === 401 || expected.status === 403) {
      // Every API takes DPoP tokens and says so in each challenge (RFC 9449 §7.1); a route
      // that wants nothing else need not offer Bearer.
      const has = (scheme) => (c) => c.scheme.toLowerCase() === scheme;
      if (expected.scheme === 'Bearer' && !challenges.some(has('bearer'))) {
        wrong.push('a Bearer challenge');
      }
      if (!challenges.some((c) => has('dpop')(c) && c.attributes.algs)) {
        wrong.push('a DPoP challenge with algs');
      }
      const named = challenges.filter((c) => c.attributes.error !== undefined);
      const show = (list) =>
        list.map((c) => `${c.scheme} error="${c.attributes.error}"`).join(', ') ||
        'no error attribute';
      const expectedError =
        expected.error === undefined ? [] : [{ scheme: expected.scheme, attributes: expected }];
      // Scheme names are case-insensitive (RFC 9110 §11.1).
      if (show(named).toLowerCase() !== show(expectedError).toLowerCase()) {
        wrong.push(`${show(expectedError)}, got ${show(named)}`);
      }
      const scope = named[0]?.attributes.scope;
      if (expected.scope !== undefined && scope !== expected.scope) {
        wrong.push(
          `scope="${expected.scope}", got ${scope === undefined ? 'none' : `scope="${scope}"`}`,
        );
      }
    } else if (challenges.length > 0) {
      wrong.push('no challenge, got one');
    }
    return wrong;
  };

  // `credentials`: a token sent as Bearer, or { token, proof, note } sent the DPoP way.
  const stepOn = (api) => async (expected, title, method, path, credentials, body) => {
    const headers = {};
    if (typeof credentials === 'string') headers.authorization = `Bearer ${credentials}`;
    if (typeof credentials === 'object') {
      headers.authorization = `DPoP ${credentials.token}`;
      headers.dpop = credentials.proof;
    }
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
    const wrong = mismatches(expected, res.status, json, challengesOf(header));
    outcomes.push(wrong.length === 0);
    const answer = [res.status, json?.code].filter((part) => part !== undefined).join(' ');
    console.log(
      `${wrong.length === 0 ? color(32, '✔') : color(31, '✘')} ${answer}  ${method} ${path}  ${dim(`— ${title}`)}`,
    );
    for (const line of wrong) console.log(color(31, `      expected ${line}`));
    if (typeof credentials === 'object') {
      const { jti } = JSON.parse(Buffer.from(credentials.proof.split('.')[1], 'base64url'));
      console.log(
        dim(`      Authorization: DPoP <token>, DPoP: <proof jti ${jti}> (${credentials.note})`),
      );
    }
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

    // The token is bound to the client's key: whoever copies it (from a log, a proxy, a
    // compromised service) cannot sign the fresh proof each request needs.
    const invoices = `${urlOf(api.server)}/invoices`;
    const token = bound.access_token;
    const victimProof = dpopProof(clientKey, 'GET', invoices, token);
    await step(
      success(200),
      "order-writer's DPoP-bound token with a fresh proof by its key",
      'GET',
      '/invoices',
      { token, proof: victimProof, note: "a fresh proof by order-writer's key" },
    );
    await step(
      refusedAs('DPoP', 'ERR_DPOP_REQUIRED', 'invalid_token'),
      'a Bearer token is not enough for the invoices',
      'GET',
      '/invoices',
      reader.access_token,
    );
    await step(
      refusedAs('Bearer', 'ERR_DPOP_BINDING_MISMATCH', 'invalid_token'),
      'the stolen DPoP token replayed as a Bearer token',
      'GET',
      '/invoices',
      token,
    );
    await step(
      refusedAs('DPoP', 'ERR_DPOP_BINDING_MISMATCH', 'invalid_token'),
      "the stolen token with a proof by the attacker's own key",
      'GET',
      '/invoices',
      { token, proof: dpopProof(attackerKey, 'GET', invoices, token), note: "the attacker's key" },
    );
    await step(
      refusedAs('DPoP', 'ERR_DPOP_PROOF_REPLAYED', 'invalid_dpop_proof'),
      "the stolen token with the victim's captured proof",
      'GET',
      '/invoices',
      {
        token,
        proof: victimProof,
        note: `the accepted request's proof, replayed; its jti is in ${redisUrl === undefined ? "this API's memory store" : 'the shared Redis store'}`,
      },
    );
  }

  // Each API keeps its own revocations in memory; with Redis one revocation reaches them all.
  // The stolen DPoP-bound token is revoked too: the admin holds no proof for it, and needs none.
  console.log(
    `\n${color(1, `── revoking the order-writer token and the stolen DPoP-bound one`)} ${dim(redisUrl === undefined ? '(memory store: each API revokes them)' : '(shared Redis store: once, through the first API)')}`,
  );
  for (const api of redisUrl === undefined ? apis : apis.slice(0, 1)) {
    for (const [what, token] of [
      ['the order-writer token', writer.access_token],
      ['the DPoP-bound token', bound.access_token],
    ]) {
      await stepOn(api)(
        success(200),
        `admin-console revokes ${what} on ${api.name}`,
        'POST',
        '/admin/revocations',
        admin.access_token,
        { token },
      );
    }
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
    const invoices = `${urlOf(api.server)}/invoices`;
    await stepOn(api)(
      refusedAs('DPoP', 'ERR_TOKEN_REVOKED', 'invalid_token'),
      `${api.name} refuses the revoked DPoP-bound token, even with a fresh proof by its key`,
      'GET',
      '/invoices',
      {
        token: bound.access_token,
        proof: dpopProof(clientKey, 'GET', invoices, bound.access_token),
        note: "a fresh proof by order-writer's key",
      },
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
