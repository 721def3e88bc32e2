// Verification throughput on one core: raw node:crypto, the guard without cache, the guard on
// a cache hit, and jose for reference. Run with `pnpm bench:core` (it builds first).
// Figures are printed, never asserted: the machines are shared and noisy.
import { constants, createSecretKey, verify as cryptoVerify } from 'node:crypto';
import { createGuard } from '@jwt-guard/core';
import { createTestKey, signJwt } from '@jwt-guard/testkit';
import { importJWK, jwtVerify } from 'jose';

const seconds = Number(process.env.BENCH_SECONDS ?? 1);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const issuer = 'https://idp.example/';
const audience = 'https://api.example/';
const now = Math.floor(Date.now() / 1000);

// A realistic RFC 9068 access token: ~700 bytes of claims.
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

async function measure(fn) {
  const results = [];
  for (let round = 0; round < rounds + 1; round++) {
    const deadline = performance.now() + seconds * 1000;
    let count = 0;
    while (performance.now() < deadline) {
      for (let i = 0; i < 100; i++) await fn();
      count += 100;
    }
    const elapsed = seconds;
    if (round > 0) results.push(count / elapsed); // round 0 warms up
  }
  results.sort((a, b) => a - b);
  return results[Math.floor(results.length / 2)];
}

function rawVerifier(alg, key, token) {
  const dot = token.lastIndexOf('.');
  const input = Buffer.from(token.slice(0, dot));
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  switch (alg.slice(0, 2)) {
    case 'HS':
      return null;
    case 'PS':
      return () =>
        cryptoVerify(
          hash,
          input,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
          signature,
        );
    case 'ES':
      return () => cryptoVerify(hash, input, { key, dsaEncoding: 'ieee-p1363' }, signature);
    default:
      return () => cryptoVerify(hash, input, key, signature);
  }
}

const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`).padStart(8);
const pct = (a, b) => (b ? `${((a / b) * 100).toFixed(0)}%` : 'n/a').padStart(6);

console.log(
  `verifications per second, one core, median of ${rounds} × ${seconds}s (node ${process.version})\n`,
);
console.log('alg      raw crypto   guard   ratio   guard+cache   jose   jose/raw');
for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256']) {
  const key = createTestKey(alg, { kid: 'bench' });
  const token = signJwt(key, claims);
  const keys = alg === 'HS256' ? createSecretKey(key.verificationKey.export()) : key.publicPem;
  const base = { issuer, audience, keys, algorithms: [alg] };
  const uncached = createGuard({ ...base, cache: false });
  const cached = createGuard(base);
  await uncached.verify(token);
  await cached.verify(token);
  const joseKey = await importJWK(key.jwk, alg);
  const joseOptions = { issuer, audience, algorithms: [alg] };
  await jwtVerify(token, joseKey, joseOptions);

  const raw = rawVerifier(alg, key.verificationKey, token);
  const rawRate = raw ? await measure(raw) : undefined;
  const guardRate = await measure(() => uncached.verify(token));
  const cacheRate = await measure(() => cached.verify(token));
  const joseRate = await measure(() => jwtVerify(token, joseKey, joseOptions));
  console.log(
    `${alg.padEnd(6)} ${rawRate ? fmt(rawRate) : '     n/a'}    ${fmt(guardRate)} ${pct(guardRate, rawRate)}     ${fmt(cacheRate)}  ${fmt(joseRate)} ${pct(joseRate, rawRate)}`,
  );
}
