// Verification throughput on one core: raw node:crypto, the least any JWT verifier must do,
// the guard without cache, the guard on a cache hit, each also with the memory token store's
// revocation check, and jose for reference. Run with `pnpm bench:core` (it builds first).
// Figures are printed, never asserted. The machines are shared and noisy, so the candidates
// run interleaved, round after round, each round is measured in CPU time of this process
// (time another process takes from the core does not count against it), and the median of
// the rounds is reported. The Redis store's local set is measured by `pnpm bench:redis`.
import { constants, createSecretKey, verify as cryptoVerify } from 'node:crypto';
import { createGuard, createMemoryStore } from '@jwt-guard/core';
import { createTestKey, signJwt } from '@jwt-guard/testkit';
import { importJWK, jwtVerify } from 'jose';

const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const roundMs = Number(process.env.BENCH_ROUND_MS ?? 200);
const issuer = 'https://idp.example/';
const audience = 'https://api.example/';
const now = Math.floor(Date.now() / 1000);

// A realistic RFC 9068 access token: about 450 bytes of claims.
const claims = {
  iss: issuer,
  sub: 'auth0|5f7c8ec7c33c6c004bbafe82',
  aud: [audience, 'https://idp.example/userinfo'],
  iat: now,
  exp: now + 3600,
  nbf: now,
  jti: 'f5b6a1c2-7d3e-4f8a-9b0c-1d2e3f4a5b6c',
  client_id: 's6BhdRkqt3',
  scope: 'openid profile email read:items write:items read:orders',
  azp: 's6BhdRkqt3',
  tenant: 'acme',
  roles: ['editor', 'viewer'],
  org: { id: 'org_42', name: 'Acme Corporation', plan: 'enterprise' },
};

function signatureOptions(alg, key) {
  switch (alg.slice(0, 2)) {
    case 'PS':
      return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    case 'ES':
      return { key, dsaEncoding: 'ieee-p1363' };
    default:
      return key;
  }
}

// crypto.verify alone, on inputs decoded in advance: the ceiling.
function rawVerifier(alg, key, token) {
  if (alg.startsWith('HS')) return undefined;
  const dot = token.lastIndexOf('.');
  const input = Buffer.from(token.slice(0, dot));
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  const options = signatureOptions(alg, key);
  return () => cryptoVerify(hash, input, options, signature);
}

// What no JWT verifier can skip, written the obvious way with Node's own decoders: check the
// alphabet, decode, parse the claims, verify. No header, no key lookup, no claim rules: not a
// usable verifier. (The guard skips the alphabet regex, checking each segment by re-encoding
// it instead, so on cheap signatures it can come close to this.)
function minimalVerifier(alg, key, token) {
  if (alg.startsWith('HS')) return undefined;
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  const options = signatureOptions(alg, key);
  const shape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;
  return () => {
    if (!shape.test(token)) throw new Error('malformed');
    const first = token.indexOf('.');
    const second = token.lastIndexOf('.');
    const payload = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString());
    const signature = Buffer.from(token.slice(second + 1), 'base64url');
    const input = Buffer.from(token.slice(0, second), 'latin1');
    return cryptoVerify(hash, input, options, signature) && payload.exp > now;
  };
}

async function runRounds(candidates) {
  const rates = Object.fromEntries(Object.keys(candidates).map((name) => [name, []]));
  for (let round = 0; round <= rounds; round++) {
    for (const [name, fn] of Object.entries(candidates)) {
      const start = performance.now();
      const cpu = process.cpuUsage();
      let count = 0;
      while (performance.now() - start < roundMs) {
        for (let i = 0; i < 20; i++) await fn();
        count += 20;
      }
      const { user, system } = process.cpuUsage(cpu);
      // Round 0 warms every candidate up.
      if (round > 0) rates[name].push((count * 1e6) / (user + system));
    }
  }
  return Object.fromEntries(
    Object.entries(rates).map(([name, list]) => [
      name,
      list.sort((a, b) => a - b)[list.length >> 1],
    ]),
  );
}

const fmt = (n) =>
  n === undefined ? 'n/a' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`;
const pct = (a, b) =>
  a === undefined || b === undefined ? 'n/a' : `${((a / b) * 100).toFixed(0)}%`;

console.log(
  `verifications per CPU-second, median of ${rounds} interleaved rounds of ${roundMs} ms (node ${process.version}); "+ store" and "hit + store" are the rates with the memory store's revocation check, as a share of the same row without it`,
);
const rows = [];
for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256']) {
  const key = createTestKey(alg, { kid: 'bench' });
  const token = signJwt(key, claims);
  const keys = alg.startsWith('HS') ? createSecretKey(key.verificationKey.export()) : key.publicPem;
  const base = { issuer, audience, keys, algorithms: [alg] };
  const uncached = createGuard({ ...base, cache: false });
  const cached = createGuard(base);
  // A store holding 10k revocations of other tokens: the check is a lookup, not a scan.
  const store = createMemoryStore();
  for (let i = 0; i < 10_000; i++)
    await store.revokeToken({ jti: `other-${i}`, expiresAt: now + 3600 });
  const uncachedStore = createGuard({ ...base, cache: false, store });
  const cachedStore = createGuard({ ...base, store });
  const joseKey = await importJWK(key.jwk, alg);
  const joseOptions = { issuer, audience, algorithms: [alg] };
  const candidates = {
    raw: rawVerifier(alg, key.verificationKey, token),
    minimal: minimalVerifier(alg, key.verificationKey, token),
    guard: () => uncached.verify(token),
    guardStore: () => uncachedStore.verify(token),
    cached: () => cached.verify(token),
    cachedStore: () => cachedStore.verify(token),
    jose: () => jwtVerify(token, joseKey, joseOptions),
  };
  for (const [name, fn] of Object.entries(candidates))
    if (fn === undefined) delete candidates[name];
  for (const fn of Object.values(candidates)) await fn(); // each must accept the token
  const r = await runRounds(candidates);
  rows.push({
    alg,
    'raw crypto': fmt(r.raw),
    'minimal JWT': `${fmt(r.minimal)} (${pct(r.minimal, r.raw)})`,
    'guard, no cache': fmt(r.guard),
    'guard / raw': pct(r.guard, r.raw),
    'guard / minimal': pct(r.guard, r.minimal),
    '+ store': pct(r.guardStore, r.guard),
    'cache hit': fmt(r.cached),
    'hit + store': pct(r.cachedStore, r.cached),
    jose: `${fmt(r.jose)} (${pct(r.jose, r.raw)})`,
  });
}
console.table(rows);
