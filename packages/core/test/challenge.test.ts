import {
  ConfigurationError,
  buildChallenge,
  createGuard,
  defineRequirement,
  type GuardOptions,
  type GuardRequest,
} from '@jwt-guard/core';
import {
  bearerRequest,
  createDpopKey,
  createDpopProof,
  createTestClock,
  createTokenFactory,
  refusalOf,
  refusalOfSync,
  testKeys,
  type DpopKey,
} from '@jwt-guard/testkit';

// The WWW-Authenticate value a client parses, byte for byte: RFC 6750 §3 attributes, RFC 9110
// §5.6.4 quoted strings, and RFC 9110 §11.6.1 lists of challenges when DPoP is on.

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const ORIGIN = 'https://api.example';
const METADATA = 'https://api.example/.well-known/oauth-protected-resource';
const REALM_REFUSED =
  '"realm" must be a string of printable ASCII characters without quotes or backslashes';

const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });

function guardWith(options: Partial<GuardOptions> = {}) {
  return createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
    keys: keys.ES256.jwk,
    ...options,
  });
}

function challengeOf(error: { readonly headers: Readonly<Record<string, string>> }) {
  return error.headers['WWW-Authenticate'];
}

const NO_CREDENTIALS: GuardRequest = { method: 'GET', url: '/orders', headers: [] };

describe('buildChallenge', () => {
  describe('quoted-string values (RFC 9110 §5.6.4)', () => {
    it('escapes a double quote and a backslash with a backslash', () => {
      expect(buildChallenge({ realm: 'say "hi"', errorDescription: 'C:\\temp\\' })).toBe(
        String.raw`Bearer realm="say \"hi\"", error_description="C:\\temp\\"`,
      );
    });

    it('drops CR and LF, so no value can end the header line', () => {
      expect(buildChallenge({ realm: 'api\r\nSet-Cookie: session=x' })).toBe(
        'Bearer realm="apiSet-Cookie: session=x"',
      );
    });

    it('drops every other control character too, HTAB and DEL included', () => {
      expect(buildChallenge({ errorDescription: 'a\u0000b\u0001c\td\u001fe\u007ff' })).toBe(
        'Bearer error_description="abcdef"',
      );
    });

    it('keeps every other character as written: commas, equals signs and semicolons need no escape', () => {
      expect(buildChallenge({ realm: "orders (v2), eu=1; o'brien/~" })).toBe(
        `Bearer realm="orders (v2), eu=1; o'brien/~"`,
      );
    });
  });

  describe('attributes', () => {
    it('is the bare scheme when there are none', () => {
      expect(buildChallenge({})).toBe('Bearer');
      expect(buildChallenge({ scheme: 'DPoP' })).toBe('DPoP');
    });

    it('leaves out empty lists', () => {
      expect(buildChallenge({ scope: [], acrValues: [], algs: [] })).toBe('Bearer');
    });

    it('puts realm first, then error, error_description, scope, acr_values, max_age, algs, resource_metadata', () => {
      // Given in reverse: the order is the code's, not the input object's.
      expect(
        buildChallenge({
          resourceMetadata: METADATA,
          algs: ['ES256', 'EdDSA'],
          maxAgeSeconds: 300,
          acrValues: ['urn:example:mfa', 'urn:example:hwk'],
          scope: ['read:items', 'write:items'],
          errorDescription: 'A stronger or more recent user authentication is required',
          error: 'insufficient_user_authentication',
          realm: 'items-api',
          scheme: 'DPoP',
        }),
      ).toBe(
        `DPoP realm="items-api", error="insufficient_user_authentication", error_description="A stronger or more recent user authentication is required", scope="read:items write:items", acr_values="urn:example:mfa urn:example:hwk", max_age="300", algs="ES256 EdDSA", resource_metadata="${METADATA}"`,
      );
    });

    it('joins scope with single spaces', () => {
      expect(
        buildChallenge({ error: 'insufficient_scope', scope: ['read:items', 'write:items'] }),
      ).toBe('Bearer error="insufficient_scope", scope="read:items write:items"');
    });

    it('quotes max_age, and keeps a max_age of 0', () => {
      expect(buildChallenge({ maxAgeSeconds: 0 })).toBe('Bearer max_age="0"');
    });
  });
});

describe("the guard's challenge", () => {
  const guard = guardWith({ realm: 'items-api', resourceMetadata: { resource: AUDIENCE } });

  it('is the bare scheme for a request without credentials and no configured attributes', async () => {
    const error = await refusalOf(guardWith().authenticate(NO_CREDENTIALS));
    expect(challengeOf(error)).toBe('Bearer');
  });

  it('names realm first and resource_metadata last, with no error when nothing was sent', async () => {
    const error = await refusalOf(guard.authenticate(NO_CREDENTIALS));
    expect(challengeOf(error)).toBe(`Bearer realm="items-api", resource_metadata="${METADATA}"`);
  });

  it('carries the space-joined scopes between error_description and resource_metadata', async () => {
    const auth = await guard.verify(mint.sign(keys.ES256, { scope: 'read:items' }));
    const error = refusalOfSync(() =>
      guard.authorize(auth, defineRequirement({ scopes: ['read:items', 'write:items'] })),
    );
    expect(challengeOf(error)).toBe(
      `Bearer realm="items-api", error="insufficient_scope", error_description="The access token lacks a required scope", scope="read:items write:items", resource_metadata="${METADATA}"`,
    );
  });

  it('carries acr_values, then max_age, for a step-up (RFC 9470 §3)', async () => {
    const auth = await guard.verify(
      mint.sign(keys.ES256, { acr: 'urn:example:pwd', auth_time: clock.nowSeconds() }),
    );
    const requirement = defineRequirement({
      acr: ['urn:example:mfa', 'urn:example:hwk'],
      maxAuthAgeSeconds: 300,
    });
    const error = refusalOfSync(() => guard.authorize(auth, requirement));
    expect(challengeOf(error)).toBe(
      `Bearer realm="items-api", error="insufficient_user_authentication", error_description="A stronger or more recent user authentication is required", acr_values="urn:example:mfa urn:example:hwk", max_age="300", resource_metadata="${METADATA}"`,
    );
  });
});

describe('several challenges in one header (RFC 9110 §11.6.1)', () => {
  const ALGS = 'algs="ES256 EdDSA"';
  const dpop = { origin: ORIGIN, algorithms: ['ES256', 'EdDSA'] } as const;
  const guard = guardWith({ realm: 'orders', resourceMetadata: { resource: AUDIENCE }, dpop });
  let key: DpopKey;

  beforeAll(async () => {
    key = await createDpopKey('ES256');
  });

  function bound(extra: Record<string, unknown> = {}): string {
    return mint.sign(keys.ES256, { scope: 'read:orders', cnf: { jkt: key.thumbprint }, ...extra });
  }

  function dpopRequest(token: string, proof?: string): GuardRequest {
    return {
      method: 'GET',
      url: '/orders',
      headers: ['Authorization', `DPoP ${token}`, ...(proof === undefined ? [] : ['DPoP', proof])],
    };
  }

  it('offers Bearer, then DPoP with its algs, to a request without credentials', async () => {
    const error = await refusalOf(guard.authenticate(NO_CREDENTIALS));
    expect(challengeOf(error)).toBe(
      `Bearer realm="orders", resource_metadata="${METADATA}", DPoP realm="orders", ${ALGS}, resource_metadata="${METADATA}"`,
    );
  });

  it('puts Bearer first when the refused token came as a bearer token', async () => {
    const expired = mint.sign(keys.ES256, { exp: clock.nowSeconds() - 60 });
    const error = await refusalOf(guard.authenticate(bearerRequest(expired)));
    expect(challengeOf(error)).toBe(
      `Bearer realm="orders", error="invalid_token", error_description="The access token expired", resource_metadata="${METADATA}", DPoP realm="orders", ${ALGS}, resource_metadata="${METADATA}"`,
    );
  });

  it('puts DPoP first when the refused token came under the DPoP scheme', async () => {
    const expired = bound({ exp: clock.nowSeconds() - 60 });
    const error = await refusalOf(guard.authenticate(dpopRequest(expired)));
    expect(challengeOf(error)).toBe(
      `DPoP realm="orders", error="invalid_token", error_description="The access token expired", ${ALGS}, resource_metadata="${METADATA}", Bearer realm="orders", resource_metadata="${METADATA}"`,
    );
  });

  it('puts DPoP first for a DPoP error code (RFC 9449 §7.1)', async () => {
    const error = await refusalOf(guard.authenticate(dpopRequest(bound())));
    expect(challengeOf(error)).toBe(
      `DPoP realm="orders", error="invalid_dpop_proof", error_description="A DPoP proof is required with a DPoP access token", ${ALGS}, resource_metadata="${METADATA}", Bearer realm="orders", resource_metadata="${METADATA}"`,
    );
  });

  it('names the scopes in the DPoP challenge, before algs, for a DPoP-bound token', async () => {
    const token = bound();
    const proof = createDpopProof(key, {
      htm: 'GET',
      htu: `${ORIGIN}/orders`,
      accessToken: token,
      iatSeconds: clock.nowSeconds(),
    });
    const auth = await guard.authenticate(dpopRequest(token, proof));
    const error = refusalOfSync(() =>
      guard.authorize(auth, defineRequirement({ scopes: ['write:orders'] })),
    );
    expect(challengeOf(error)).toBe(
      `DPoP realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="write:orders", ${ALGS}, resource_metadata="${METADATA}", Bearer realm="orders", resource_metadata="${METADATA}"`,
    );
  });

  it('offers DPoP alone where DPoP is required', async () => {
    const required = guardWith({ realm: 'orders', dpop: { ...dpop, mode: 'required' } });
    const missing = await refusalOf(required.authenticate(NO_CREDENTIALS));
    expect(challengeOf(missing)).toBe(`DPoP realm="orders", ${ALGS}`);
    const bearer = await refusalOf(required.authenticate(bearerRequest(mint.sign(keys.ES256))));
    expect(challengeOf(bearer)).toBe(
      `DPoP realm="orders", error="invalid_token", error_description="This resource requires a DPoP-bound access token", ${ALGS}`,
    );
  });
});

describe('the realm option', () => {
  function configurationErrorOf(build: () => unknown): ConfigurationError {
    try {
      build();
    } catch (error) {
      if (error instanceof ConfigurationError) return error;
      throw error;
    }
    throw new Error('expected a ConfigurationError, the guard was built');
  }

  // Checked once, at construction, so no refusal has to alter the realm on its way out
  // (buildChallenge would drop a control character and send another realm than configured).
  it.each([
    ['a double quote', 'items "api"'],
    ['a backslash', 'items\\api'],
    ['CR', 'items\rapi'],
    ['LF', 'items\napi'],
    ['NUL', 'items\u0000api'],
    ['HTAB', 'items\tapi'],
    ['US (0x1f)', 'items\u001fapi'],
    ['DEL (0x7f)', 'items\u007fapi'],
    ['a character outside Latin-1', 'API €'],
    ['a Latin-1 letter', 'Zürich API'],
  ])('with %s is refused at construction', (_name, realm) => {
    const error = configurationErrorOf(() => guardWith({ realm }));
    expect({ code: error.code, message: error.message }).toEqual({
      code: 'ERR_INVALID_OPTIONS',
      message: REALM_REFUSED,
    });
  });

  it('that is not a string is refused at construction', () => {
    const error = configurationErrorOf(() => guardWith({ realm: 42 as unknown as string }));
    expect(error.message).toBe(REALM_REFUSED);
  });

  it('with other printable characters is sent as written', async () => {
    const realm = "orders (v2), eu=1; o'brien";
    const error = await refusalOf(guardWith({ realm }).authenticate(NO_CREDENTIALS));
    expect(challengeOf(error)).toBe(`Bearer realm="orders (v2), eu=1; o'brien"`);
  });
});
