import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRedisStore, type RedisTokenStore } from '@jwt-guard/redis';
import {
  createTokenFactory,
  findRedis,
  startJsonLineProcess,
  testKeys,
  uniqueKeyPrefix,
  type JsonLineProcess,
} from '@jwt-guard/testkit';
import { Redis } from 'ioredis';

const REDIS_URL = findRedis();
const describeRedis = REDIS_URL === undefined ? describe.skip : describe;

// The other instance runs the built packages, as a deployed API would: `pnpm build` first
// (CI builds before it tests).
const FIXTURE = join(__dirname, 'fixtures', 'guard-process.mjs');
const BUILT = [
  join(__dirname, '..', 'dist', 'index.js'),
  join(__dirname, '..', '..', 'core', 'dist', 'index.js'),
];

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';

const keys = testKeys();
const mint = createTokenFactory({
  issuer: ISSUER,
  audience: AUDIENCE,
  clock: { nowMs: () => Date.now() },
});

function claimsOf(token: string): { jti: string; exp: number; sub: string; iat: number } {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as {
    jti: string;
    exp: number;
    sub: string;
    iat: number;
  };
}

describeRedis('two API instances in two processes sharing one Redis', () => {
  const keyPrefix = uniqueKeyPrefix('processes');
  let client: Redis | undefined;
  let store: RedisTokenStore | undefined;
  let child: JsonLineProcess | undefined;
  let serial = 0;
  // How long each revocation took to reach the other process, printed. Only the bound the
  // store promises (pub/sub, not polling: within 100 ms) is asserted, at 25 times the usual
  // delay; bench/propagation.mjs measures the distribution.
  const delays: string[] = [];
  const PROPAGATION_BOUND_MS = 100;

  beforeAll(async () => {
    const missing = BUILT.filter((file) => !existsSync(file));
    if (missing.length > 0)
      throw new Error(`run \`pnpm build\` first: missing ${missing.join(', ')}`);
    client = new Redis(REDIS_URL as string);
    store = createRedisStore({ client, keyPrefix });
    child = startJsonLineProcess(FIXTURE, {
      REDIS_URL: REDIS_URL as string,
      KEY_PREFIX: keyPrefix,
      ISSUER,
      AUDIENCE,
      KEYS: JSON.stringify(keys.ES256.jwk),
    });
    await Promise.all([store.ready(), child.next('ready')]);
  });

  afterAll(async () => {
    if (delays.length > 0) {
      console.log(`revocations seen by the other process after: ${delays.join(', ')}`);
    }
    await child?.stop();
    await store?.close();
    client?.disconnect();
  });

  async function verifyThere(token: string) {
    const id = ++serial;
    child!.send({ type: 'verify', id, token });
    return child!.next<{ id: number; ok: boolean; code: string | null }>('verified');
  }

  /**
   * Revokes here while the child checks the token on every turn of its event loop; resolves
   * with the code of its first refusal (`null` if it accepted the token for 10 s).
   */
  async function revokeWhileWatched(what: string, token: string, revoke: () => Promise<void>) {
    const id = ++serial;
    child!.send({ type: 'watch', id, token, timeoutMs: 10_000 });
    await child!.next('watching');
    const start = performance.timeOrigin + performance.now();
    await revoke();
    const refused = await child!.next<{ code: string | null; at: number }>('refused', 15_000);
    if (refused.code !== null) {
      const delayMs = refused.at - start;
      delays.push(`${what} ${delayMs.toFixed(1)} ms`);
      expect(delayMs).toBeLessThan(PROPAGATION_BOUND_MS);
    }
    return refused.code;
  }

  it('the other process refuses a token revoked here', async () => {
    const token = mint.sign(keys.ES256);
    expect(await verifyThere(token)).toMatchObject({ ok: true });
    const { jti, exp } = claimsOf(token);

    expect(
      await revokeWhileWatched('token', token, () => store!.revokeToken({ jti, expiresAt: exp })),
    ).toBe('ERR_TOKEN_REVOKED');
    expect(await verifyThere(token)).toMatchObject({ ok: false, code: 'ERR_TOKEN_REVOKED' });
    expect(await verifyThere(mint.sign(keys.ES256))).toMatchObject({ ok: true });
  });

  it('the other process refuses a token revoked here for its issuer only', async () => {
    const token = mint.sign(keys.ES256);
    const { jti, exp } = claimsOf(token);

    expect(
      await revokeWhileWatched('token at one issuer', token, () =>
        store!.revokeToken({ jti, iss: ISSUER, expiresAt: exp }),
      ),
    ).toBe('ERR_TOKEN_REVOKED');
    expect(await verifyThere(token)).toMatchObject({ ok: false, code: 'ERR_TOKEN_REVOKED' });
  });

  it('the other process refuses the tokens of a subject revoked here', async () => {
    const token = mint.sign(keys.ES256, { sub: 'user-revoked' });
    expect(await verifyThere(token)).toMatchObject({ ok: true });
    const { sub, iat } = claimsOf(token);

    expect(
      await revokeWhileWatched('subject', token, () =>
        store!.revokeSubject({ sub, issuedBefore: iat + 1, iss: ISSUER }),
      ),
    ).toBe('ERR_TOKEN_REVOKED');
    // Another token of that subject, issued as early: refused too.
    expect(await verifyThere(mint.sign(keys.ES256, { sub, iat }))).toMatchObject({
      ok: false,
      code: 'ERR_TOKEN_REVOKED',
    });
    expect(await verifyThere(mint.sign(keys.ES256))).toMatchObject({ ok: true });
  });
});
