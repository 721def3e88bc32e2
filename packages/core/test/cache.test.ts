import { createGuard, type GuardEvent } from '@jwt-guard/core';
import { createTestClock, createTokenFactory, testKeys } from '@jwt-guard/testkit';

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });

// Whether each verification was answered by the verified-token cache, as the audit events
// report it: the only view of the cache the public API gives.
function guardWithCache(maxEntries: number) {
  const answers: boolean[] = [];
  const guard = createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: keys.ES256.jwk,
    clock,
    cache: { maxEntries },
    onEvent: (event: GuardEvent) => {
      if (event.type === 'token.accepted') answers.push(event.cached);
    },
  });
  const cached = async (token: string): Promise<boolean> => {
    await guard.verify(token);
    return answers[answers.length - 1] as boolean;
  };
  return { cached };
}

describe('verified-token cache bound (LRU)', () => {
  const tokens = Array.from({ length: 4 }, (_, i) => mint.sign(keys.ES256, { jti: `t${i}` }));
  const [t0, t1, t2, t3] = tokens as [string, string, string, string];

  it('holds at most maxEntries tokens, evicting the least recently used', async () => {
    const { cached } = guardWithCache(3);
    for (const token of [t0, t1, t2]) expect(await cached(token)).toBe(false);
    // t0 is used again, so t1 is now the least recently used.
    expect(await cached(t0)).toBe(true);
    expect(await cached(t3)).toBe(false);

    expect(await cached(t0)).toBe(true);
    expect(await cached(t2)).toBe(true);
    expect(await cached(t3)).toBe(true);
    expect(await cached(t1)).toBe(false);
  });

  it('stays bounded under a flood of distinct valid tokens', async () => {
    const { cached } = guardWithCache(16);
    const flood = Array.from({ length: 500 }, (_, i) => mint.sign(keys.ES256, { jti: `f${i}` }));
    for (const token of flood) await cached(token);
    // Only the 16 most recent are still held.
    const held = [];
    for (const token of flood) held.push(await cached(token));
    expect(held.filter(Boolean)).toHaveLength(0);
    for (const token of flood.slice(-16)) expect(await cached(token)).toBe(true);
  });
});
