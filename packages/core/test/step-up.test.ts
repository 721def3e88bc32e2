import {
  ConfigurationError,
  createGuard,
  defineRequirement,
  mergeRequirements,
  type AuthContext,
  type Guard,
  type GuardEvent,
  type GuardOptions,
  type Requirement,
} from '@jwt-guard/core';
import {
  bearerRequest,
  createDpopKey,
  createDpopProof,
  createEventRecorder,
  createTestClock,
  createTokenFactory,
  refusalOfSync,
  testKeys,
  type Refusal,
} from '@jwt-guard/testkit';

// RFC 9470 step-up: a route names the authentication context classes it accepts (`acr`) and
// how recent the user's authentication must be (`auth_time`); a token short of either is
// answered 401 insufficient_user_authentication with acr_values / max_age, so the client
// sends the user back to the authorization server to authenticate again.

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const DESCRIPTION = 'error_description="A stronger or more recent user authentication is required"';
const INSUFFICIENT = `Bearer error="insufficient_user_authentication", ${DESCRIPTION}`;

const keys = testKeys();
const clock = createTestClock();
const START = clock.nowMs();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });

beforeEach(() => clock.set(START));

function guardWith(options: Partial<GuardOptions> = {}) {
  const events = createEventRecorder<GuardEvent>();
  const guard = createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: keys.ES256.jwk,
    clock,
    onEvent: events.listener,
    ...options,
  });
  return { guard, events };
}

async function authFor(guard: Guard, claims: Record<string, unknown>): Promise<AuthContext> {
  return guard.authenticate(bearerRequest(mint.sign(keys.ES256, claims)));
}

function outcome(error: Refusal) {
  return { code: error.code, status: error.status, challenge: error.headers['WWW-Authenticate'] };
}

function refusal(guard: Guard, auth: AuthContext, requirement: Requirement) {
  return outcome(refusalOfSync(() => guard.authorize(auth, requirement)));
}

function insufficient(attributes: string) {
  return {
    code: 'ERR_AUTHENTICATION_INSUFFICIENT',
    status: 401,
    challenge: `${INSUFFICIENT}, ${attributes}`,
  };
}

describe('acr', () => {
  const requirement = defineRequirement({ acr: ['urn:example:mfa', 'phr'] });
  const expected = insufficient('acr_values="urn:example:mfa phr"');

  it.each(['urn:example:mfa', 'phr'])('passes a token whose acr is %s', async (acr) => {
    const { guard } = guardWith();
    const auth = await authFor(guard, { acr });
    expect(() => guard.authorize(auth, requirement)).not.toThrow();
  });

  it.each<[string, unknown]>([
    ['another value', 'pwd'],
    ['another case', 'PHR'],
    ['a prefix', 'urn:example'],
    ['the list as one string', 'urn:example:mfa phr'],
    ['an array holding an accepted value', ['phr']],
    ['a number', 2],
    ['null', null],
    ['missing', undefined],
  ])('refuses an acr that is %s', async (_, acr) => {
    const { guard } = guardWith();
    const auth = await authFor(guard, { acr });
    expect(refusal(guard, auth, requirement)).toEqual(expected);
  });

  it('accepts a single value as a string', async () => {
    const { guard } = guardWith();
    const auth = await authFor(guard, { acr: 'pwd' });
    expect(refusal(guard, auth, defineRequirement({ acr: 'mfa' }))).toEqual(
      insufficient('acr_values="mfa"'),
    );
  });
});

describe('maxAuthAgeSeconds', () => {
  const requirement = defineRequirement({ maxAuthAgeSeconds: 300 });
  const expected = insufficient('max_age="300"');

  // The guard's clock tolerance (default 5 s) applies, as it does to every time claim.
  it.each([
    ['just now', 0],
    ['300 s ago', -300],
    ['305 s ago (the tolerance)', -305],
    ['5 s in the future (the tolerance)', 5],
  ])('passes a user who authenticated %s', async (_, offset) => {
    const { guard } = guardWith();
    const auth = await authFor(guard, { auth_time: clock.nowSeconds() + offset });
    expect(() => guard.authorize(auth, requirement)).not.toThrow();
  });

  it.each<[string, unknown]>([
    ['306 s ago', -306],
    ['a day ago', -86_400],
    ['6 s in the future', 6],
    ['a day in the future', 86_400],
  ])('refuses a user who authenticated %s', async (_, offset) => {
    const { guard } = guardWith();
    const auth = await authFor(guard, { auth_time: clock.nowSeconds() + (offset as number) });
    expect(refusal(guard, auth, requirement)).toEqual(expected);
  });

  it.each<[string, () => unknown]>([
    ['missing', () => undefined],
    ['a numeric string', () => String(clock.nowSeconds())],
    ['null', () => null],
    ['a boolean', () => true],
    ['an array', () => [clock.nowSeconds()]],
    ['an object', () => ({ at: clock.nowSeconds() })],
  ])('refuses an auth_time that is %s', async (_, authTime) => {
    const { guard } = guardWith();
    const auth = await authFor(guard, { auth_time: authTime() });
    expect(refusal(guard, auth, requirement)).toEqual(expected);
  });

  it('measures the age when the route is checked, also for a cached token', async () => {
    const { guard } = guardWith();
    const token = mint.sign(keys.ES256, { auth_time: clock.nowSeconds() });
    const auth = await guard.authenticate(bearerRequest(token));
    expect(() => guard.authorize(auth, requirement)).not.toThrow();
    clock.advanceSeconds(306);
    const again = await guard.authenticate(bearerRequest(token));
    expect(refusal(guard, again, requirement)).toEqual(expected);
  });

  it('follows the guard’s clockToleranceSeconds', async () => {
    const { guard } = guardWith({ clockToleranceSeconds: 0 });
    const now = clock.nowSeconds();
    const ok = await authFor(guard, { auth_time: now - 300 });
    expect(() => guard.authorize(ok, requirement)).not.toThrow();
    for (const authTime of [now - 301, now + 1]) {
      const auth = await authFor(guard, { auth_time: authTime });
      expect(refusal(guard, auth, requirement)).toEqual(expected);
    }
  });

  it('accepts max age 0: the user authenticated for this very request', async () => {
    const { guard } = guardWith({ clockToleranceSeconds: 0 });
    const now = clock.nowSeconds();
    const zero = defineRequirement({ maxAuthAgeSeconds: 0 });
    const passing = await authFor(guard, { auth_time: now });
    expect(() => guard.authorize(passing, zero)).not.toThrow();
    expect(refusal(guard, await authFor(guard, { auth_time: now - 1 }), zero)).toEqual(
      insufficient('max_age="0"'),
    );
  });
});

describe('acr and auth age together', () => {
  const requirement = defineRequirement({ acr: ['mfa'], maxAuthAgeSeconds: 60 });
  const expected = insufficient('acr_values="mfa", max_age="60"');

  it('names both in the challenge, whichever failed, so one re-authentication meets both', async () => {
    const { guard } = guardWith();
    const now = clock.nowSeconds();
    for (const claims of [
      { acr: 'pwd', auth_time: now },
      { acr: 'mfa', auth_time: now - 3600 },
      { acr: 'pwd', auth_time: now - 3600 },
      {},
    ]) {
      expect(refusal(guard, await authFor(guard, claims), requirement)).toEqual(expected);
    }
    const auth = await authFor(guard, { acr: 'mfa', auth_time: now - 60 });
    expect(() => guard.authorize(auth, requirement)).not.toThrow();
  });

  it('is checked before scopes: re-authenticating comes first, 403 after', async () => {
    const { guard } = guardWith();
    const withScope = defineRequirement({ acr: ['mfa'], scopes: ['admin'] });
    const weak = await authFor(guard, { acr: 'pwd', scope: 'read' });
    expect(refusal(guard, weak, withScope)).toEqual(insufficient('acr_values="mfa"'));
    const strong = await authFor(guard, { acr: 'mfa', scope: 'read' });
    expect(refusal(guard, strong, withScope)).toEqual({
      code: 'ERR_SCOPE_INSUFFICIENT',
      status: 403,
      challenge:
        'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin"',
    });
  });
});

describe('merged requirements (a controller’s and a handler’s)', () => {
  it('take the stricter max age', async () => {
    const { guard } = guardWith();
    const now = clock.nowSeconds();
    const merged = mergeRequirements(
      defineRequirement({ maxAuthAgeSeconds: 300 }),
      defineRequirement({ maxAuthAgeSeconds: 60 }),
      defineRequirement({}),
    );
    expect(merged.maxAuthAgeSeconds).toBe(60);
    const old = await authFor(guard, { auth_time: now - 100 });
    expect(refusal(guard, old, merged)).toEqual(insufficient('max_age="60"'));
    const passing = await authFor(guard, { auth_time: now - 60 });
    expect(() => guard.authorize(passing, merged)).not.toThrow();
  });

  it('offer only the acr values every part accepts', async () => {
    const { guard } = guardWith();
    const merged = mergeRequirements(
      defineRequirement({ acr: ['mfa', 'phr'] }),
      defineRequirement({ acr: ['phr', 'hwk'] }),
    );
    const expected = insufficient('acr_values="phr"');
    for (const acr of ['mfa', 'hwk', 'pwd']) {
      expect(refusal(guard, await authFor(guard, { acr }), merged)).toEqual(expected);
    }
    const passing = await authFor(guard, { acr: 'phr' });
    expect(() => guard.authorize(passing, merged)).not.toThrow();
  });

  it('refuse every acr when the parts share none, and advertise none', async () => {
    const { guard } = guardWith();
    const merged = mergeRequirements(
      defineRequirement({ acr: 'mfa' }),
      defineRequirement({ acr: 'phr' }),
    );
    for (const acr of ['mfa', 'phr']) {
      expect(refusal(guard, await authFor(guard, { acr }), merged)).toEqual({
        code: 'ERR_AUTHENTICATION_INSUFFICIENT',
        status: 401,
        challenge: INSUFFICIENT,
      });
    }
  });
});

describe('challenges', () => {
  it('carry the realm', async () => {
    const { guard } = guardWith({ realm: 'orders' });
    const auth = await authFor(guard, { acr: 'pwd' });
    expect(refusal(guard, auth, defineRequirement({ acr: 'mfa' })).challenge).toBe(
      `Bearer realm="orders", error="insufficient_user_authentication", ${DESCRIPTION}, acr_values="mfa"`,
    );
  });

  it('use the DPoP scheme for a DPoP-bound token, and still offer Bearer', async () => {
    const origin = 'https://api.example';
    const { guard } = guardWith({ dpop: { origin, algorithms: ['ES256'] } });
    const key = await createDpopKey('ES256');
    const token = mint.sign(keys.ES256, { acr: 'pwd', cnf: { jkt: key.thumbprint } });
    const proof = createDpopProof(key, {
      htm: 'GET',
      htu: `${origin}/`,
      accessToken: token,
      iatSeconds: clock.nowSeconds(),
    });
    const auth = await guard.authenticate({
      method: 'GET',
      url: '/',
      headers: ['Authorization', `DPoP ${token}`, 'DPoP', proof],
    });
    expect(refusal(guard, auth, defineRequirement({ acr: 'mfa', maxAuthAgeSeconds: 30 }))).toEqual({
      code: 'ERR_AUTHENTICATION_INSUFFICIENT',
      status: 401,
      challenge: `DPoP error="insufficient_user_authentication", ${DESCRIPTION}, acr_values="mfa", max_age="30", algs="ES256", Bearer`,
    });
  });

  it('name no claim value of the token, in the error or the event', async () => {
    const { guard, events } = guardWith();
    const auth = await authFor(guard, { acr: 'secret-acr-value', auth_time: 1234567 });
    const error = refusalOfSync(() =>
      guard.authorize(auth, defineRequirement({ acr: 'mfa', maxAuthAgeSeconds: 60 })),
    );
    const text = [
      error.message,
      JSON.stringify(error.toJSON()),
      JSON.stringify(error.headers),
      JSON.stringify(events.events),
    ].join('\n');
    expect(text).not.toContain('secret-acr-value');
    expect(text).not.toContain('1234567');
    expect(events.ofType('token.rejected')).toEqual([
      expect.objectContaining({ code: 'ERR_AUTHENTICATION_INSUFFICIENT', requirement: 'acr' }),
    ]);
  });

  it('report which part failed in the event', async () => {
    const { guard, events } = guardWith();
    const auth = await authFor(guard, { acr: 'mfa', auth_time: clock.nowSeconds() - 3600 });
    refusalOfSync(() =>
      guard.authorize(auth, defineRequirement({ acr: 'mfa', maxAuthAgeSeconds: 60 })),
    );
    expect(events.ofType('token.rejected').map((event) => event.requirement)).toEqual([
      'auth_time',
    ]);
  });
});

describe('defineRequirement validation', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['an empty acr list', { acr: [] }, '"acr" must name one or more'],
    ['an empty acr', { acr: '' }, '"acr" must name one or more'],
    ['an acr with a space', { acr: ['urn:a urn:b'] }, '"acr" must name one or more'],
    ['an acr with a quote', { acr: 'a"b' }, '"acr" must name one or more'],
    ['a numeric acr', { acr: [2] }, '"acr" must name one or more'],
    ['a negative age', { maxAuthAgeSeconds: -1 }, '"maxAuthAgeSeconds" must be a whole number'],
    ['a fractional age', { maxAuthAgeSeconds: 1.5 }, '"maxAuthAgeSeconds" must be a whole number'],
    ['a string age', { maxAuthAgeSeconds: '60' }, '"maxAuthAgeSeconds" must be a whole number'],
    [
      'an infinite age',
      { maxAuthAgeSeconds: Infinity },
      '"maxAuthAgeSeconds" must be a whole number',
    ],
  ])('refuses %s when the route is defined', (_, spec, message) => {
    expect(() => defineRequirement(spec)).toThrow(ConfigurationError);
    expect(() => defineRequirement(spec)).toThrow(message);
  });
});
