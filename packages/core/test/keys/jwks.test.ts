import { randomUUID } from 'node:crypto';
import { createGuard, type GuardEvent, type GuardOptions, type JwksOptions } from '@jwt-guard/core';
import {
  bearerRequest,
  createEventRecorder,
  createTestClock,
  createTestKey,
  createTokenFactory,
  refusalOf,
  startKeyServer,
  testKeys,
  type KeyServer,
  type KeyServerFault,
  type TestClock,
} from '@jwt-guard/testkit';

const audience = 'https://api.example/';
const keys = testKeys();

let server: KeyServer;
let clock: TestClock;

beforeEach(async () => {
  server = await startKeyServer({ keys: [keys.ES256, keys.RS256] });
  clock = createTestClock();
});
afterEach(() => server.close());

type KeyMode = 'jwksUri' | 'discovery';

function guardFor(
  jwks: JwksOptions = {},
  options: { mode?: KeyMode; onEvent?: GuardOptions['onEvent'] } = {},
) {
  return createGuard({
    issuer: server.issuer,
    audience,
    clock,
    jwks,
    ...(options.mode === 'discovery' ? {} : { jwksUri: server.jwksUri }),
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
}

function mint() {
  return createTokenFactory({ issuer: server.issuer, audience, clock });
}

const faults: [string, KeyServerFault][] = [
  ['down', { kind: 'down' }],
  // Far past the 200 ms timeout set below, so this is a timeout and not a race.
  ['slow past the timeout', { kind: 'slow', delayMs: 3000 }],
  ['answering garbage', { kind: 'garbage' }],
  ['sending a 10 MB body', { kind: 'huge' }],
  ['redirecting', { kind: 'redirect' }],
  ['answering 500', { kind: 'status', status: 500 }],
];

describe.each<KeyMode>(['jwksUri', 'discovery'])('key server faults (keys by %s)', (mode) => {
  // A key-source outage says nothing about the token: 503 without a Bearer challenge, so a
  // client does not throw its token away (DESIGN "Remote keys"; RFC 6750 §3 covers 401 only).
  it.each(faults)(
    'answers 503 ERR_KEYS_UNAVAILABLE when the server is %s, then recovers',
    async (_, fault) => {
      const guard = guardFor({ timeoutMs: 200, cooldownSeconds: 0 }, { mode });
      const token = mint().sign(keys.ES256);
      server.setFault(fault);

      const error = await refusalOf(guard.authenticate(bearerRequest(token)));
      expect(error).toMatchObject({
        name: 'JwtGuardError',
        code: 'ERR_KEYS_UNAVAILABLE',
        status: 503,
      });
      expect(error.headers['WWW-Authenticate']).toBeUndefined();
      expect(server.hits.jwks + server.hits.metadata).toBeGreaterThan(0);
      // A redirect could point key discovery anywhere; it is refused, never followed.
      expect(server.hits.redirected).toBe(0);

      server.setFault(undefined);
      await expect(guard.authenticate(bearerRequest(token))).resolves.toMatchObject({
        subject: 'user-1',
      });
    },
  );
});

describe('an issuer slower than the timeout', () => {
  // Real time: the back-off and the timeout are measured against each other.
  function realTimeGuard(mode: KeyMode) {
    return createGuard({
      issuer: server.issuer,
      audience,
      jwks: { timeoutMs: 1500, cooldownSeconds: 1 },
      ...(mode === 'discovery' ? {} : { jwksUri: server.jwksUri }),
    });
  }
  const realMint = () =>
    createTokenFactory({ issuer: server.issuer, audience, clock: { nowMs: () => Date.now() } });

  it('costs one timed-out fetch, then answers 503 at once during the back-off', async () => {
    const guard = realTimeGuard('jwksUri');
    server.setFault({ kind: 'slow', delayMs: 10_000 });
    const token = realMint().sign(keys.ES256);
    expect((await refusalOf(guard.verify(token))).code).toBe('ERR_KEYS_UNAVAILABLE');
    // The back-off (1 s) runs from the failure, not from the start of the 1.5 s fetch.
    expect((await refusalOf(guard.verify(token))).code).toBe('ERR_KEYS_UNAVAILABLE');
    expect(server.hits.jwks).toBe(1);
  });

  it('gives discovery one timeout in all, not one per metadata URL', async () => {
    // Both metadata URLs served: a guard that gave each its own timeout would try the second.
    await server.close();
    server = await startKeyServer({ keys: [keys.ES256], discovery: 'both' });
    const guard = realTimeGuard('discovery');
    server.setFault({ kind: 'slow', delayMs: 10_000 });
    expect((await refusalOf(guard.verify(realMint().sign(keys.ES256)))).code).toBe(
      'ERR_KEYS_UNAVAILABLE',
    );
    expect(server.hits.metadata).toBe(1);
  });
});

describe('response size cap', () => {
  // A valid key set padded past the 256 KiB default: refused for its size alone, since the
  // same document is accepted once the cap is raised.
  const padded = { keys: [keys.ES256.jwk], padding: ' '.repeat(300 * 1024) };

  it('refuses a key set larger than the default maxResponseBytes', async () => {
    server.setKeys(padded);
    const error = await refusalOf(guardFor().verify(mint().sign(keys.ES256)));
    expect(error).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', status: 503 });
  });

  it('accepts the same key set under a raised maxResponseBytes', async () => {
    server.setKeys(padded);
    const guard = guardFor({ maxResponseBytes: 1024 * 1024 });
    await expect(guard.verify(mint().sign(keys.ES256))).resolves.toMatchObject({
      subject: 'user-1',
    });
  });
});

describe('rotation', () => {
  it('accepts a token signed with a newly published key without a restart', async () => {
    const guard = guardFor();
    await guard.verify(mint().sign(keys.ES256));
    const rotated = createTestKey('ES256', { kid: 'rotated-es256' });
    server.setKeys([keys.ES256, rotated]);
    // Past the default 30 s cooldown since the first fetch: an unknown kid then refetches.
    clock.advanceSeconds(31);

    await expect(guard.verify(mint().sign(rotated))).resolves.toMatchObject({
      header: expect.objectContaining({ kid: 'rotated-es256' }),
    });
    expect(server.hits.jwks).toBe(2);
  });
});

describe('rotation from a key set whose keys have no kid', () => {
  // A kid-less key may verify a token of any kid, but a kid that no key names may also be a
  // key published since the last fetch: it is looked for, under the unknown-kid cooldown.
  const kidless = (key: { jwk: Record<string, unknown> }) =>
    Object.fromEntries(Object.entries(key.jwk).filter(([name]) => name !== 'kid'));

  it('fetches a newly published key named by the token, instead of waiting for max age', async () => {
    server.setKeys({ keys: [kidless(keys.ES256)] });
    const guard = guardFor({ cooldownSeconds: 30 });
    await guard.verify(mint().sign(keys.ES256, {}, { header: { kid: 'any' } }));
    expect(server.hits.jwks).toBe(1);
    const rotated = createTestKey('ES256', { kid: 'rotated' });
    server.setKeys({ keys: [kidless(keys.ES256), rotated.jwk] });
    clock.advanceSeconds(31);
    await expect(guard.verify(mint().sign(rotated))).resolves.toMatchObject({
      header: expect.objectContaining({ kid: 'rotated' }),
    });
    expect(server.hits.jwks).toBe(2);
  });

  it('does not make a token of an unnamed kid wait for a refresh already on its way', async () => {
    server.setKeys({ keys: [kidless(keys.ES256)] });
    const guard = guardFor({ cooldownSeconds: 30, timeoutMs: 5000 });
    await guard.verify(mint().sign(keys.ES256));
    // Past max age: the next request starts a background refresh, which the issuer is slow
    // to answer. Its token names a kid no key has: the kid-less key answers it at once.
    server.setFault({ kind: 'slow', delayMs: 3000 });
    clock.advanceSeconds(601);
    const outcome = await Promise.race([
      guard
        .verify(mint().sign(keys.ES256, {}, { header: { kid: 'unnamed' } }))
        .then(() => 'verified by the kid-less key'),
      new Promise((resolve) => setTimeout(resolve, 1000, 'waited for the refresh')),
    ]);
    expect(outcome).toBe('verified by the kid-less key');
    server.setFault(undefined);
  });

  it('keeps verifying with the kid-less keys, one fetch per cooldown, under a flood of kids', async () => {
    server.setKeys({ keys: [kidless(keys.ES256)] });
    const guard = guardFor({ cooldownSeconds: 30 });
    await guard.verify(mint().sign(keys.ES256));
    clock.advanceSeconds(31);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        guard.verify(mint().sign(keys.ES256, { jti: `k-${i}` }, { header: { kid: randomUUID() } })),
      ),
    );
    expect(answers).toHaveLength(200);
    expect(server.hits.jwks).toBe(2);
    // The key server down: the kid-less keys still answer, no 503.
    server.setFault({ kind: 'down' });
    clock.advanceSeconds(31);
    await expect(
      guard.verify(mint().sign(keys.ES256, {}, { header: { kid: 'after-outage' } })),
    ).resolves.toMatchObject({ subject: 'user-1' });
  });
});

describe('penalty box on unknown kid', () => {
  // aws-jwt-verify's penalty box: random kids are free for an attacker to mint, so each
  // must not cost a fetch from the IdP.
  it('answers a flood of random kids with at most one fetch per cooldown', async () => {
    const guard = guardFor({ cooldownSeconds: 30 });
    await guard.verify(mint().sign(keys.ES256));
    expect(server.hits.jwks).toBe(1);
    clock.advanceSeconds(31);

    const stranger = createTestKey('ES256');
    const factory = mint();
    const codes = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const token = factory.sign(stranger, {}, { header: { kid: randomUUID() } });
      const error = await refusalOf(guard.verify(token));
      codes.add(`${error.status} ${error.code}`);
    }
    expect([...codes]).toEqual(['401 ERR_KEY_NOT_FOUND']);
    expect(server.hits.jwks - 1).toBeLessThanOrEqual(1);
  });

  it('keeps accepting tokens of a published key, without a fetch, during a flood of random kids', async () => {
    const guard = guardFor({ cooldownSeconds: 30 });
    await guard.verify(mint().sign(keys.ES256));
    clock.advanceSeconds(31);
    const stranger = createTestKey('ES256');
    const flood = Array.from({ length: 200 }, () =>
      refusalOf(guard.verify(mint().sign(stranger, {}, { header: { kid: randomUUID() } }))),
    );
    const legitimate = Array.from({ length: 20 }, (_, i) =>
      guard.verify(mint().sign(keys.ES256, { jti: `during-flood-${i}` })),
    );

    const answers = await Promise.all(legitimate);
    expect(answers.map((auth) => auth.subject)).toEqual(Array(20).fill('user-1'));
    expect(new Set((await Promise.all(flood)).map((error) => error.code))).toEqual(
      new Set(['ERR_KEY_NOT_FOUND']),
    );
    expect(server.hits.jwks).toBe(2);
  });

  it('does not lock out a key published during the flood once the cooldown has passed', async () => {
    const guard = guardFor({ cooldownSeconds: 30 });
    await guard.verify(mint().sign(keys.ES256));
    clock.advanceSeconds(31);
    const stranger = createTestKey('ES256');
    await Promise.all(
      Array.from({ length: 200 }, () =>
        refusalOf(guard.verify(mint().sign(stranger, {}, { header: { kid: randomUUID() } }))),
      ),
    );

    const published = createTestKey('ES256', { kid: 'published-later' });
    server.setKeys([keys.ES256, published]);
    clock.advanceSeconds(31);
    await expect(guard.verify(mint().sign(published))).resolves.toMatchObject({
      subject: 'user-1',
    });
  });
});

describe('single-flight fetch', () => {
  it.each<KeyMode>(['jwksUri', 'discovery'])(
    'fetches once for 50 concurrent first requests (keys by %s)',
    async (mode) => {
      const guard = guardFor({}, { mode });
      const factory = mint();
      const tokens = Array.from({ length: 50 }, () => factory.sign(keys.ES256));

      const results = await Promise.all(tokens.map((token) => guard.verify(token)));
      expect(results).toHaveLength(50);
      expect(server.hits.jwks).toBe(1);
      expect(server.hits.metadata).toBe(mode === 'discovery' ? 1 : 0);
    },
  );
});

describe('max age and stale-if-error', () => {
  it('refreshes in the background after cacheMaxAgeSeconds, answering from the keys in hand', async () => {
    const events = createEventRecorder<GuardEvent>();
    const guard = guardFor({ cacheMaxAgeSeconds: 60 }, { onEvent: events.listener });
    await guard.verify(mint().sign(keys.ES256));
    const successor = createTestKey('ES256', { kid: 'successor' });
    server.setKeys([successor]);
    clock.advanceSeconds(61);

    const refreshed = events.next('keys.refreshed');
    // Stale-while-revalidate: this request does not wait for the refresh it starts, so the
    // retired key still verifies it.
    await expect(guard.verify(mint().sign(keys.ES256))).resolves.toMatchObject({
      subject: 'user-1',
    });
    await expect(refreshed).resolves.toMatchObject({ keyCount: 1 });
    expect(server.hits.jwks).toBe(2);

    await expect(guard.verify(mint().sign(successor))).resolves.toMatchObject({
      subject: 'user-1',
    });
    expect(server.hits.jwks).toBe(2);
  });

  it('serves known keys while the server is down until staleIfErrorSeconds, then answers 503', async () => {
    const events = createEventRecorder<GuardEvent>();
    const guard = guardFor(
      { cacheMaxAgeSeconds: 60, staleIfErrorSeconds: 120 },
      { onEvent: events.listener },
    );
    await guard.verify(mint().sign(keys.ES256));
    server.setFault({ kind: 'down' });

    clock.advanceSeconds(61);
    const failed = events.next('keys.refresh_failed');
    await expect(guard.verify(mint().sign(keys.ES256))).resolves.toMatchObject({
      subject: 'user-1',
    });
    await failed;

    clock.advanceSeconds(118); // 179 s after the fetch: still inside 60 + 120
    await expect(guard.verify(mint().sign(keys.RS256))).resolves.toMatchObject({
      subject: 'user-1',
    });

    clock.advanceSeconds(2); // 181 s: the keys are too old to trust
    const error = await refusalOf(guard.verify(mint().sign(keys.ES256)));
    expect(error).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', status: 503 });
    expect(error.headers['WWW-Authenticate']).toBeUndefined();
  });

  it('does not accept a cached token once its key set is past stale-if-error', async () => {
    const guard = guardFor({ cacheMaxAgeSeconds: 60, staleIfErrorSeconds: 120 });
    const token = mint().sign(keys.ES256); // lives 900 s, longer than the key set may
    await guard.verify(token);
    server.setFault({ kind: 'down' });
    clock.advanceSeconds(181);

    // The key set it was verified with is dropped; the cache must not outlive it.
    const error = await refusalOf(guard.verify(token));
    expect(error).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', status: 503 });
  });
});

describe('verified-token cache and key removal', () => {
  it('a cached verification dies when its key leaves the key set', async () => {
    const events = createEventRecorder<GuardEvent>();
    const guard = guardFor({}, { onEvent: events.listener });
    const token = mint().sign(keys.ES256);
    await guard.verify(token);
    await guard.verify(token);
    expect(events.ofType('token.accepted').map((e) => e.cached)).toEqual([false, true]);

    server.setKeys([keys.RS256]);
    await guard.hydrate();
    const error = await refusalOf(guard.verify(token));
    expect(error).toMatchObject({ code: 'ERR_KEY_NOT_FOUND', status: 401 });
    expect(error.headers['WWW-Authenticate']).toBe(
      'Bearer error="invalid_token", error_description="No key is known for the access token"',
    );
  });

  it('a cached verification survives a refresh that keeps its key', async () => {
    const events = createEventRecorder<GuardEvent>();
    const guard = guardFor({}, { onEvent: events.listener });
    const token = mint().sign(keys.ES256);
    await guard.verify(token);
    await guard.hydrate();
    await guard.verify(token);
    expect(server.hits.jwks).toBe(2);
    expect(events.ofType('token.accepted').map((e) => e.cached)).toEqual([false, true]);
  });
});

describe('hydrate()', () => {
  it.each<KeyMode>(['jwksUri', 'discovery'])(
    'fetches the keys before the first request (keys by %s)',
    async (mode) => {
      const guard = guardFor({}, { mode });
      expect(server.hits.jwks).toBe(0);
      await guard.hydrate();
      expect(server.hits.jwks).toBe(1);
      expect(server.hits.metadata).toBe(mode === 'discovery' ? 1 : 0);

      await guard.verify(mint().sign(keys.ES256));
      expect(server.hits.jwks).toBe(1);
    },
  );

  it('rejects with ERR_KEYS_UNAVAILABLE when the key server is down', async () => {
    server.setFault({ kind: 'down' });
    const error = await refusalOf(guardFor().hydrate());
    expect(error).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', status: 503 });
  });
});

describe('key events', () => {
  it('reports keys.refreshed and skips unusable JWKs with keys.key_skipped', async () => {
    const encryption = createTestKey('ES256', { kid: 'enc-key' });
    const weak = createTestKey('RS256', { kid: 'rsa-1024', rsaBits: 1024 });
    const leaked = createTestKey('ES256', { kid: 'private-key' });
    server.setKeys({
      keys: [
        { ...encryption.jwk, use: 'enc' },
        weak.jwk,
        // RFC 7517 §4: a JWK with `d` is a private key; publishing it is a leak, not a key.
        {
          ...(leaked.signingKey.export({ format: 'jwk' }) as Record<string, unknown>),
          kid: 'private-key',
          alg: 'ES256',
          use: 'sig',
        },
        keys.ES256.jwk,
      ],
    });
    const events = createEventRecorder<GuardEvent>();
    const guard = guardFor({}, { onEvent: events.listener });
    await guard.hydrate();

    const skipped = events.ofType('keys.key_skipped');
    expect(skipped.map((e) => e.kid).sort()).toEqual(['enc-key', 'private-key', 'rsa-1024']);
    for (const event of skipped) {
      expect(event).toMatchObject({ source: server.jwksUri, reason: expect.any(String) });
    }
    expect(events.ofType('keys.refreshed')).toEqual([
      { type: 'keys.refreshed', source: server.jwksUri, keyCount: 1 },
    ]);

    await expect(guard.verify(mint().sign(keys.ES256))).resolves.toMatchObject({
      subject: 'user-1',
    });
    for (const key of [encryption, weak, leaked]) {
      const error = await refusalOf(guard.verify(mint().sign(key)));
      expect(error).toMatchObject({ code: 'ERR_KEY_NOT_FOUND', status: 401 });
    }
  });

  it('reports keys.refresh_failed when the key server cannot be reached', async () => {
    server.setFault({ kind: 'status', status: 500 });
    const events = createEventRecorder<GuardEvent>();
    const guard = guardFor({}, { onEvent: events.listener });
    await refusalOf(guard.hydrate());

    expect(events.ofType('keys.refresh_failed')).toEqual([
      { type: 'keys.refresh_failed', source: server.jwksUri, reason: expect.any(String) },
    ]);
    expect(events.ofType('keys.refreshed')).toEqual([]);
  });
});
