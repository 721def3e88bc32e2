// A walk-through of @jwt-guard/core: a tiny token issuer (JWKS + OIDC discovery) and an API
// on node:http, both on loopback, then a scripted series of requests with their answers.
// Run: pnpm demo. Nothing is configured and nothing leaves 127.0.0.1.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createGuard, defineRequirement, isJwtGuardError } from '@jwt-guard/core';

const AUDIENCE = 'https://orders.example/';

function listen(handler) {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
const urlOf = (server) => `http://127.0.0.1:${server.address().port}`;
const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

// The issuer: one ES256 key, published as a JWKS and found through discovery.
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'demo-key-1', alg: 'ES256', use: 'sig' };
const issuerServer = await listen((req, res) => {
  if (req.url === '/.well-known/openid-configuration') {
    return json(res, 200, { issuer: issuerUrl, jwks_uri: `${issuerUrl}/jwks.json` });
  }
  if (req.url === '/jwks.json') return json(res, 200, { keys: [jwk] });
  json(res, 404, { error: 'not_found' });
});
const issuerUrl = urlOf(issuerServer);

async function mint({ scope, expiresInSeconds = 900, header = {} }) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope, client_id: 'demo-client' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'demo-key-1', ...header })
    .setIssuer(issuerUrl)
    .setAudience(AUDIENCE)
    .setSubject('alice')
    .setJti(randomUUID())
    .setIssuedAt(now - (expiresInSeconds < 0 ? 3600 : 0))
    .setExpirationTime(now + expiresInSeconds)
    .sign(privateKey);
}

// The API: routes compartmentalized by scope, evaluated by core.
const guard = createGuard({ issuer: issuerUrl, audience: AUDIENCE });
await guard.hydrate();
const routes = {
  'GET /orders': defineRequirement({ scopes: ['orders:read'] }),
  'POST /orders': defineRequirement({ scopes: ['orders:write'] }),
};
const api = await listen(async (req, res) => {
  try {
    const auth = await guard.authenticate({
      method: req.method,
      url: req.url,
      headers: req.rawHeaders,
    });
    const requirement = routes[`${req.method} ${req.url}`];
    if (requirement) guard.authorize(auth, requirement);
    json(res, 200, { ok: true, subject: auth.subject, scopes: auth.scopes });
  } catch (error) {
    if (!isJwtGuardError(error)) throw error;
    json(res, error.status, { code: error.code, message: error.message }, error.headers);
  }
});
const apiUrl = urlOf(api);

async function step(title, method, path, token) {
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const res = await fetch(`${apiUrl}${path}`, { method, headers });
  const body = await res.json();
  const challenge = res.headers.get('www-authenticate');
  console.log(`\n▸ ${title}\n  ${method} ${path} → ${res.status} ${JSON.stringify(body)}`);
  if (challenge) console.log(`  WWW-Authenticate: ${challenge}`);
  return res.status;
}

const reader = await mint({ scope: 'orders:read' });
const [header, payload, signature] = reader.split('.');
const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, scope: 'orders:read orders:write' })).toString('base64url')}.${signature}`;
const unsigned = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${payload}.`;

console.log(`issuer ${issuerUrl}   api ${apiUrl}   audience ${AUDIENCE}`);
const outcomes = [
  [await step('no token', 'GET', '/orders'), 401],
  [await step('a token with orders:read', 'GET', '/orders', reader), 200],
  [await step('the same token on a route that needs orders:write', 'POST', '/orders', reader), 403],
  [
    await step(
      'an expired token',
      'GET',
      '/orders',
      await mint({ scope: 'orders:read', expiresInSeconds: -60 }),
    ),
    401,
  ],
  [await step('a token whose scope was edited after signing', 'POST', '/orders', tampered), 401],
  [await step('alg: none', 'GET', '/orders', unsigned), 401],
];
issuerServer.close();
api.close();
const wrong = outcomes.filter(([got, want]) => got !== want);
console.log(
  wrong.length === 0
    ? '\nevery answer was the expected one'
    : `\n${wrong.length} unexpected answers`,
);
process.exitCode = wrong.length === 0 ? 0 : 1;
