import {
  ConfigurationError,
  createMemoryStore,
  type Claims,
  type TokenStore,
} from '@jwt-guard/core';
import { createTestClock, type TestClock } from '@jwt-guard/testkit';

const ISSUER_A = 'https://a.idp.example/';
const ISSUER_B = 'https://b.idp.example/';

/** A verified claims set as the guard would hand it to `isRevoked`. */
function claims(fields: Partial<Claims> & Record<string, unknown>): Claims {
  return fields as Claims;
}

/** Runs a store call that must fail on its arguments, sync throw or rejection alike. */
async function argumentError(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to refuse its arguments');
}

describe('createMemoryStore', () => {
  let clock: TestClock;
  let store: TokenStore;

  beforeEach(() => {
    clock = createTestClock('2030-01-01T00:00:00Z');
    // No tolerance here, so expiries are exact; the tolerance has its own tests below.
    store = createMemoryStore({ clock, clockToleranceSeconds: 0 });
  });

  describe('revokeToken', () => {
    it('revokes a jti until expiresAt (NumericDate seconds), then forgets it', async () => {
      const expiresAt = clock.nowSeconds() + 60;
      await store.revokeToken({ jti: 'jti-1', expiresAt });
      expect(store.isRevoked(claims({ jti: 'jti-1' }))).toBe(true);
      expect(store.isRevoked(claims({ jti: 'jti-2' }))).toBe(false);
      clock.advanceSeconds(59);
      expect(store.isRevoked(claims({ jti: 'jti-1' }))).toBe(true);
      // The token itself is expired from here on; the entry has no more work to do.
      clock.advanceSeconds(1);
      expect(store.isRevoked(claims({ jti: 'jti-1' }))).toBe(false);
    });

    it('takes expiresAt as a Date', async () => {
      await store.revokeToken({ jti: 'jti-1', expiresAt: new Date(clock.nowMs() + 60_000) });
      clock.advanceSeconds(59);
      expect(store.isRevoked(claims({ jti: 'jti-1' }))).toBe(true);
      clock.advanceSeconds(1);
      expect(store.isRevoked(claims({ jti: 'jti-1' }))).toBe(false);
    });

    it("with iss revokes that issuer's token only: another issuer may use the same jti", async () => {
      await store.revokeToken({ jti: 'shared', expiresAt: clock.nowSeconds() + 60, iss: ISSUER_A });
      expect(store.isRevoked(claims({ iss: ISSUER_A, jti: 'shared' }))).toBe(true);
      expect(store.isRevoked(claims({ iss: ISSUER_B, jti: 'shared' }))).toBe(false);
    });

    it('without iss revokes the jti at every issuer', async () => {
      await store.revokeToken({ jti: 'shared', expiresAt: clock.nowSeconds() + 60 });
      expect(store.isRevoked(claims({ iss: ISSUER_A, jti: 'shared' }))).toBe(true);
      expect(store.isRevoked(claims({ iss: ISSUER_B, jti: 'shared' }))).toBe(true);
    });

    it('keeps the later expiry when a jti is revoked twice', async () => {
      await store.revokeToken({ jti: 'jti-1', expiresAt: clock.nowSeconds() + 120 });
      await store.revokeToken({ jti: 'jti-1', expiresAt: clock.nowSeconds() + 60 });
      clock.advanceSeconds(90);
      expect(store.isRevoked(claims({ jti: 'jti-1' }))).toBe(true);
    });
  });

  describe('revokeSubject', () => {
    const issuedBefore = Date.parse('2030-01-01T00:00:00Z') / 1000;

    it('revokes tokens of the subject issued before the time, not those issued at or after', async () => {
      await store.revokeSubject({ sub: 'alice', issuedBefore });
      expect(store.isRevoked(claims({ iss: ISSUER_A, sub: 'alice', iat: issuedBefore - 1 }))).toBe(
        true,
      );
      expect(store.isRevoked(claims({ iss: ISSUER_A, sub: 'alice', iat: issuedBefore }))).toBe(
        false,
      );
      expect(store.isRevoked(claims({ iss: ISSUER_A, sub: 'alice', iat: issuedBefore + 1 }))).toBe(
        false,
      );
      expect(store.isRevoked(claims({ iss: ISSUER_A, sub: 'bob', iat: issuedBefore - 1 }))).toBe(
        false,
      );
    });

    it('without iss applies to the subject at every issuer', async () => {
      await store.revokeSubject({ sub: 'alice', issuedBefore });
      for (const iss of [ISSUER_A, ISSUER_B]) {
        expect(store.isRevoked(claims({ iss, sub: 'alice', iat: issuedBefore - 1 }))).toBe(true);
      }
    });

    it('with iss applies to that issuer only: the same sub elsewhere is another principal', async () => {
      await store.revokeSubject({ sub: 'alice', issuedBefore, iss: ISSUER_A });
      expect(store.isRevoked(claims({ iss: ISSUER_A, sub: 'alice', iat: issuedBefore - 1 }))).toBe(
        true,
      );
      expect(store.isRevoked(claims({ iss: ISSUER_B, sub: 'alice', iat: issuedBefore - 1 }))).toBe(
        false,
      );
    });

    it('takes issuedBefore as a Date', async () => {
      await store.revokeSubject({ sub: 'alice', issuedBefore: new Date(issuedBefore * 1000) });
      expect(store.isRevoked(claims({ iss: ISSUER_A, sub: 'alice', iat: issuedBefore - 1 }))).toBe(
        true,
      );
      expect(store.isRevoked(claims({ iss: ISSUER_A, sub: 'alice', iat: issuedBefore }))).toBe(
        false,
      );
    });

    it('revokes a token without iat: it cannot show it was issued after the revocation', async () => {
      await store.revokeSubject({ sub: 'alice', issuedBefore });
      expect(store.isRevoked(claims({ iss: ISSUER_A, sub: 'alice' }))).toBe(true);
    });

    it('keeps a subject revocation for subjectRevocationTtlSeconds after issuedBefore', async () => {
      store = createMemoryStore({
        clock,
        subjectRevocationTtlSeconds: 3600,
        clockToleranceSeconds: 0,
      });
      await store.revokeSubject({ sub: 'alice', issuedBefore });
      const old = claims({ iss: ISSUER_A, sub: 'alice', iat: issuedBefore - 10 });
      clock.advanceSeconds(3599);
      expect(store.isRevoked(old)).toBe(true);
      clock.advanceSeconds(1);
      expect(store.isRevoked(old)).toBe(false);
    });
  });

  describe('consumeOnce', () => {
    it('answers true the first time, false after, until the key expires', async () => {
      const expiresAt = clock.nowSeconds() + 60;
      expect(await store.consumeOnce('k', expiresAt)).toBe(true);
      expect(await store.consumeOnce('k', expiresAt)).toBe(false);
      expect(await store.consumeOnce('other', expiresAt)).toBe(true);
      clock.advanceSeconds(59);
      expect(await store.consumeOnce('k', expiresAt)).toBe(false);
      clock.advanceSeconds(1);
      // The key's token is expired now, so a new use of the key is a new token's.
      const later = clock.nowSeconds() + 60;
      expect(await store.consumeOnce('k', later)).toBe(true);
      expect(await store.consumeOnce('k', later)).toBe(false);
    });

    it('refuses an already-expired key, even on its first use', async () => {
      expect(await store.consumeOnce('k', clock.nowSeconds())).toBe(false);
      expect(await store.consumeOnce('k', new Date(clock.nowMs() - 1000))).toBe(false);
    });

    it('does not share keys with revocations', async () => {
      await store.revokeToken({ jti: 'same', expiresAt: clock.nowSeconds() + 60 });
      expect(await store.consumeOnce('same', clock.nowSeconds() + 60)).toBe(true);
      expect(store.isRevoked(claims({ jti: 'other' }))).toBe(false);
    });
  });

  describe('arguments', () => {
    const future = Date.parse('2030-01-01T01:00:00Z') / 1000;
    const cases: [string, (s: TokenStore) => unknown][] = [
      ['revokeToken with an empty jti', (s) => s.revokeToken({ jti: '', expiresAt: future })],
      [
        'revokeToken with a non-string jti',
        (s) => s.revokeToken({ jti: 42 as unknown as string, expiresAt: future }),
      ],
      ['revokeToken with a NaN expiresAt', (s) => s.revokeToken({ jti: 'j', expiresAt: NaN })],
      [
        'revokeToken with an Infinity expiresAt',
        (s) => s.revokeToken({ jti: 'j', expiresAt: Infinity }),
      ],
      [
        'revokeToken with an invalid Date',
        (s) => s.revokeToken({ jti: 'j', expiresAt: new Date('nope') }),
      ],
      [
        'revokeToken with a string expiresAt',
        (s) => s.revokeToken({ jti: 'j', expiresAt: '2030-01-02' as unknown as number }),
      ],
      [
        'revokeSubject with an empty sub',
        (s) => s.revokeSubject({ sub: '', issuedBefore: future }),
      ],
      [
        'revokeSubject with an empty iss',
        (s) => s.revokeSubject({ sub: 'alice', issuedBefore: future, iss: '' }),
      ],
      [
        'revokeSubject with a NaN issuedBefore',
        (s) => s.revokeSubject({ sub: 'alice', issuedBefore: NaN }),
      ],
      ['consumeOnce with a non-string key', (s) => s.consumeOnce(7 as unknown as string, future)],
      ['consumeOnce with an empty key', (s) => s.consumeOnce('', future)],
      ['consumeOnce with a NaN expiresAt', (s) => s.consumeOnce('k', NaN)],
      [
        'revokeToken with an empty iss',
        (s) => s.revokeToken({ jti: 'j', expiresAt: future, iss: '' }),
      ],
    ];

    // exp * 1000 by mistake: the entry would hold a slot of the bound until the year 60000.
    it.each<[string, (s: TokenStore) => unknown]>([
      ['revokeToken', (s) => s.revokeToken({ jti: 'j', expiresAt: future * 1000 })],
      ['revokeSubject', (s) => s.revokeSubject({ sub: 'alice', issuedBefore: future * 1000 })],
      ['consumeOnce', (s) => s.consumeOnce('k', future * 1000)],
    ])('refuses %s with milliseconds for seconds, saying so', async (_name, call) => {
      const error = await argumentError(() => call(store));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/pass seconds \(like exp\), not milliseconds/);
    });

    it.each([0, -1, NaN, '3600'])(
      'refuses subjectRevocationTtlSeconds %p at construction',
      (value) => {
        expect(() => createMemoryStore({ subjectRevocationTtlSeconds: value as number })).toThrow(
          /"subjectRevocationTtlSeconds" must be a number of seconds ≥ 1/,
        );
      },
    );

    it.each(cases)('refuses %s with a TypeError', async (_name, call) => {
      expect(await argumentError(() => call(store))).toBeInstanceOf(TypeError);
    });

    it.each([0, -1, 1.5, NaN])('refuses maxEntries %p at construction', (maxEntries) => {
      expect(() => createMemoryStore({ maxEntries })).toThrow(ConfigurationError);
    });
  });

  // The guard accepts a token until exp + its clock tolerance; a revocation or a one-time use
  // that ended at exp would hand the token back for those seconds.
  describe('clock tolerance', () => {
    it('keeps a revocation 5 s past expiresAt by default', async () => {
      const tolerant = createMemoryStore({ clock });
      const exp = clock.nowSeconds() + 60;
      await tolerant.revokeToken({ jti: 'r', expiresAt: exp });
      clock.set((exp + 4) * 1000);
      expect(tolerant.isRevoked(claims({ jti: 'r' }))).toBe(true);
      clock.set((exp + 5) * 1000);
      expect(tolerant.isRevoked(claims({ jti: 'r' }))).toBe(false);
    });

    it('lets a one-time key be used once within the tolerance after expiresAt', async () => {
      const tolerant = createMemoryStore({ clock, clockToleranceSeconds: 30 });
      const exp = clock.nowSeconds();
      clock.advanceSeconds(10);
      expect(await tolerant.consumeOnce('k', exp)).toBe(true);
      expect(await tolerant.consumeOnce('k', exp)).toBe(false);
    });

    it('keeps a subject revocation for subjectRevocationTtlSeconds plus the tolerance', async () => {
      const tolerant = createMemoryStore({
        clock,
        subjectRevocationTtlSeconds: 3600,
        clockToleranceSeconds: 5,
      });
      const issuedBefore = clock.nowSeconds();
      await tolerant.revokeSubject({ sub: 'alice', issuedBefore });
      // Issued just before the revocation and living 3600 s: the guard accepts it until
      // exp + 5 s, so the revocation must last as long.
      const old = claims({ iss: ISSUER_A, sub: 'alice', iat: issuedBefore - 1 });
      clock.set((issuedBefore + 3604) * 1000);
      expect(tolerant.isRevoked(old)).toBe(true);
      clock.set((issuedBefore + 3605) * 1000);
      expect(tolerant.isRevoked(old)).toBe(false);
    });

    it("exposes its tolerance, for the guard's startup check", () => {
      expect(createMemoryStore({ clockToleranceSeconds: 30 }).clockToleranceSeconds).toBe(30);
      expect(createMemoryStore().clockToleranceSeconds).toBe(5);
    });

    it.each([-1, NaN])('refuses clockToleranceSeconds %p at construction', (value) => {
      expect(() => createMemoryStore({ clockToleranceSeconds: value })).toThrow(ConfigurationError);
    });
  });

  describe('bound', () => {
    const COUNT = 100_000;
    const jti = (i: number): string => `jti-${i}`;

    // A live entry is never evicted (that would un-revoke a token or allow a replay): past the
    // bound, new entries are refused loudly, and the ones already held all stay.
    async function fill(
      add: (i: number) => Promise<unknown>,
    ): Promise<{ accepted: number[]; refusals: number }> {
      const accepted: number[] = [];
      let refusals = 0;
      for (let i = 0; i < COUNT; i++) {
        try {
          await add(i);
          accepted.push(i);
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
          expect((error as Error).message).toMatch(/raise maxEntries or use a shared store/);
          refusals++;
        }
      }
      return { accepted, refusals };
    }

    it('holds at most maxEntries under 1e5 revocations and refuses the rest', async () => {
      const bounded = createMemoryStore({ clock, maxEntries: 1000 });
      const base = clock.nowSeconds() + 86_400;
      const { accepted, refusals } = await fill((i) =>
        bounded.revokeToken({ jti: jti(i), expiresAt: base + i }),
      );
      expect(bounded.size).toBe(1000);
      expect(accepted).toEqual(Array.from({ length: 1000 }, (_, k) => k));
      expect(refusals).toBe(COUNT - 1000);
      for (const i of accepted) expect(bounded.isRevoked(claims({ jti: jti(i) }))).toBe(true);
    });

    it('holds at most maxEntries subject revocations under 1e5 of them', async () => {
      const bounded = createMemoryStore({ clock, maxEntries: 1000 });
      const base = clock.nowSeconds();
      const { accepted } = await fill((i) =>
        bounded.revokeSubject({ sub: `user-${i}`, issuedBefore: base + i / 1000 }),
      );
      expect(bounded.size).toBe(1000);
      for (const i of accepted) {
        expect(bounded.isRevoked(claims({ iss: ISSUER_A, sub: `user-${i}`, iat: base - 1 }))).toBe(
          true,
        );
      }
    });

    it('bounds one-time keys apart from revocations, and never accepts a replay past the bound', async () => {
      const bounded = createMemoryStore({ clock, maxEntries: 1000 });
      await bounded.revokeToken({ jti: 'revoked', expiresAt: clock.nowSeconds() + 3600 });
      const base = clock.nowSeconds() + 3600;
      // Each key expires later than the one before: past the bound, the soonest is forgotten.
      for (let i = 0; i < COUNT; i++) {
        expect(await bounded.consumeOnce(`key-${i}`, base + i)).toBe(true);
      }
      // A flood of one-time uses never pushes a revocation out, and memory stays bounded.
      expect(bounded.isRevoked(claims({ jti: 'revoked' }))).toBe(true);
      expect(bounded.size).toBe(1001);
      // Every key, held or forgotten, is refused a second time.
      let replays = 0;
      for (let i = 0; i < COUNT; i++)
        if (await bounded.consumeOnce(`key-${i}`, base + i)) replays++;
      expect(replays).toBe(0);
      // A first use that expires before the last forgotten key cannot be told from a replay.
      expect(await bounded.consumeOnce('unseen-early', base + 10)).toBe(false);
      expect(await bounded.consumeOnce('unseen-late', base + COUNT)).toBe(true);
    });

    it('never lets a short-lived key push out a longer-lived one: full is full for it', async () => {
      // One-time tokens valid for an hour fill the set; a DPoP proof (about a minute) arrives.
      const bounded = createMemoryStore({ clock, maxEntries: 3, clockToleranceSeconds: 0 });
      const hour = clock.nowSeconds() + 3600;
      for (const key of ['ott-1', 'ott-2', 'ott-3']) {
        expect(await bounded.consumeOnce(key, hour)).toBe(true);
      }
      await expect(bounded.consumeOnce('proof-1', clock.nowSeconds() + 70)).rejects.toThrow(
        /the memory token store is full \(3 live one-time keys\)/,
      );
      // Nothing was forgotten, so nothing is refused for it later.
      expect(bounded.size).toBe(3);
      expect(await bounded.consumeOnce('ott-1', hour)).toBe(false);
      clock.advanceSeconds(3601);
      expect(await bounded.consumeOnce('proof-2', clock.nowSeconds() + 70)).toBe(true);
      expect(await bounded.consumeOnce('ott-4', clock.nowSeconds() + 1200)).toBe(true);
      expect(bounded.size).toBe(2);
    });

    it('keeps accepting fresh one-time keys under a flood that fills the bound', async () => {
      // DPoP proofs: each remembered for the proof window; a client sending unique proofs as
      // fast as it can must not make every other client's proof fail.
      const bounded = createMemoryStore({ clock, maxEntries: 100, clockToleranceSeconds: 0 });
      for (let second = 0; second < 30; second++) {
        for (let i = 0; i < 50; i++) {
          expect(await bounded.consumeOnce(`flood-${second}-${i}`, clock.nowSeconds() + 60)).toBe(
            true,
          );
        }
        expect(await bounded.consumeOnce(`honest-${second}`, clock.nowSeconds() + 60)).toBe(true);
        expect(await bounded.consumeOnce(`honest-${second}`, clock.nowSeconds() + 60)).toBe(false);
        clock.advanceSeconds(1);
      }
      expect(bounded.size).toBeLessThanOrEqual(100);
      // An old proof (issued before the flood's forgotten ones expire) is refused.
      expect(await bounded.consumeOnce('late-old', clock.nowSeconds() + 30)).toBe(false);
    });

    it('forgets no subject revocation it refused to hold (no leak past the bound)', async () => {
      const bounded = createMemoryStore({ clock, maxEntries: 10, subjectRevocationTtlSeconds: 60 });
      // Already past its lifetime: nothing to revoke, nothing kept.
      for (let i = 0; i < 1000; i++) {
        await bounded.revokeSubject({ sub: `gone-${i}`, issuedBefore: clock.nowSeconds() - 120 });
      }
      expect(bounded.size).toBe(0);
    });

    it('holds 1e5 revocations with the default maxEntries', async () => {
      const base = clock.nowSeconds() + 86_400;
      for (let i = 0; i < COUNT; i++) {
        await store.revokeToken({ jti: jti(i), expiresAt: base + i });
      }
      let held = 0;
      for (let i = 0; i < COUNT; i++) if (store.isRevoked(claims({ jti: jti(i) }))) held++;
      expect(held).toBe(COUNT);
    });

    it('sweeps expired entries to make room', async () => {
      const bounded = createMemoryStore({ clock, maxEntries: 1000, clockToleranceSeconds: 0 });
      for (let i = 0; i < 999; i++) {
        await bounded.revokeToken({ jti: `short-${i}`, expiresAt: clock.nowSeconds() + 10 });
      }
      await bounded.revokeToken({ jti: 'long', expiresAt: clock.nowSeconds() + 3600 });
      clock.advanceSeconds(10);
      for (let i = 0; i < 999; i++) {
        await bounded.revokeToken({ jti: `fresh-${i}`, expiresAt: clock.nowSeconds() + 60 });
      }
      expect(bounded.isRevoked(claims({ jti: 'long' }))).toBe(true);
      for (let i = 0; i < 999; i++) {
        expect(bounded.isRevoked(claims({ jti: `fresh-${i}` }))).toBe(true);
      }
    });
  });
});
