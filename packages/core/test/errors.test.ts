import {
  ConfigurationError,
  ERROR_CODES,
  JwtGuardError,
  createGuard,
  defineRequirement,
  describeError,
  isJwtGuardError,
  type ErrorCode,
  type GuardEvent,
  type GuardOptions,
} from '@jwt-guard/core';
import {
  bearerRequest,
  createTestClock,
  createTestKey,
  createTokenFactory,
  refusalOf,
  refusalOfSync,
  startKeyServer,
  testKeys,
} from '@jwt-guard/testkit';

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
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

// DESIGN.md "Errors", written out rather than read from the catalog, so a change there fails.
const EXPECTED: Record<ErrorCode, { status: number; error?: string }> = {
  ERR_TOKEN_MISSING: { status: 401 },
  ERR_AUTHORIZATION_MALFORMED: { status: 400, error: 'invalid_request' },
  ERR_MULTIPLE_AUTHORIZATION: { status: 400, error: 'invalid_request' },
  ERR_MULTIPLE_TOKENS: { status: 400, error: 'invalid_request' },
  ERR_CROSS_SITE_REQUEST: { status: 403 },
  ERR_TOKEN_TOO_LARGE: { status: 401, error: 'invalid_token' },
  ERR_TOKEN_MALFORMED: { status: 401, error: 'invalid_token' },
  ERR_HEADER_INVALID: { status: 401, error: 'invalid_token' },
  ERR_TYPE_INVALID: { status: 401, error: 'invalid_token' },
  ERR_ALGORITHM_NOT_ALLOWED: { status: 401, error: 'invalid_token' },
  ERR_KEY_NOT_FOUND: { status: 401, error: 'invalid_token' },
  ERR_SIGNATURE_INVALID: { status: 401, error: 'invalid_token' },
  ERR_ISSUER_INVALID: { status: 401, error: 'invalid_token' },
  ERR_AUDIENCE_INVALID: { status: 401, error: 'invalid_token' },
  ERR_TOKEN_EXPIRED: { status: 401, error: 'invalid_token' },
  ERR_TOKEN_NOT_YET_VALID: { status: 401, error: 'invalid_token' },
  ERR_TOKEN_TOO_OLD: { status: 401, error: 'invalid_token' },
  ERR_LIFETIME_EXCEEDED: { status: 401, error: 'invalid_token' },
  ERR_CLAIM_MISSING: { status: 401, error: 'invalid_token' },
  ERR_CLAIM_INVALID: { status: 401, error: 'invalid_token' },
  ERR_TOKEN_REVOKED: { status: 401, error: 'invalid_token' },
  ERR_TOKEN_REPLAYED: { status: 401, error: 'invalid_token' },
  ERR_DPOP_PROOF_MISSING: { status: 401, error: 'invalid_dpop_proof' },
  ERR_DPOP_PROOF_INVALID: { status: 401, error: 'invalid_dpop_proof' },
  ERR_DPOP_PROOF_REPLAYED: { status: 401, error: 'invalid_dpop_proof' },
  ERR_DPOP_NONCE_REQUIRED: { status: 401, error: 'use_dpop_nonce' },
  ERR_DPOP_BINDING_MISMATCH: { status: 401, error: 'invalid_token' },
  ERR_DPOP_REQUIRED: { status: 401, error: 'invalid_token' },
  ERR_CERTIFICATE_BINDING_MISMATCH: { status: 401, error: 'invalid_token' },
  ERR_AUTHENTICATION_INSUFFICIENT: { status: 401, error: 'insufficient_user_authentication' },
  ERR_SCOPE_INSUFFICIENT: { status: 403, error: 'insufficient_scope' },
  ERR_CLAIM_MISMATCH: { status: 403, error: 'insufficient_scope' },
  ERR_KEYS_UNAVAILABLE: { status: 503 },
  ERR_STORE_UNAVAILABLE: { status: 503 },
};

describe('the error catalog', () => {
  it('lists exactly the documented codes', () => {
    expect([...ERROR_CODES].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(ERROR_CODES)('%s has the documented status, challenge and exposure', (code) => {
    const expected = EXPECTED[code];
    const error = new JwtGuardError(code);
    const text = describeError(code).text;
    expect({
      name: error.name,
      status: error.status,
      statusCode: error.statusCode,
      expose: error.expose,
      bearerError: error.bearerError,
      message: error.message,
    }).toEqual({
      name: 'JwtGuardError',
      status: expected.status,
      statusCode: expected.status,
      expose: expected.status < 500,
      bearerError: expected.error,
      message: text,
    });
    // RFC 6750 §3: every 401 challenges; 400/403 challenge when they name an error; a 503 or a
    // CSRF refusal is no authentication problem and carries none.
    if (expected.error !== undefined) {
      expect(error.headers).toEqual({
        'WWW-Authenticate': `Bearer error="${expected.error}", error_description="${text}"`,
      });
    } else if (expected.status === 401) {
      expect(error.headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
    } else {
      expect(error.headers).toEqual({});
    }
    expect(isJwtGuardError(error)).toBe(true);
  });

  it('descriptions are fixed texts: printable, unquoted, one line', () => {
    for (const code of ERROR_CODES)
      expect(describeError(code).text).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/);
  });
});

describe('realm', () => {
  const guard = guardWith({ realm: 'items-api' });

  it('appears first in every challenge', async () => {
    const missing = await refusalOf(guard.authenticate({ method: 'GET', url: '/', headers: [] }));
    expect(missing.headers['WWW-Authenticate']).toBe('Bearer realm="items-api"');
    const expired = await refusalOf(
      guard.verify(mint.sign(keys.ES256, { exp: clock.nowSeconds() - 60 })),
    );
    expect(expired.headers['WWW-Authenticate']).toBe(
      'Bearer realm="items-api", error="invalid_token", error_description="The access token expired"',
    );
    const twice = await refusalOf(
      guard.authenticate(bearerRequest('a.b.c', { headers: ['Authorization', 'Bearer d.e.f'] })),
    );
    expect(twice.headers['WWW-Authenticate']).toBe(
      'Bearer realm="items-api", error="invalid_request", error_description="More than one Authorization header was sent"',
    );
  });

  it('appears in insufficient_scope challenges', async () => {
    const auth = await guard.verify(mint.sign(keys.ES256, { scope: 'read:items' }));
    const error = refusalOfSync(() =>
      guard.authorize(auth, defineRequirement({ scopes: ['admin'] })),
    );
    expect(error.headers['WWW-Authenticate']).toBe(
      'Bearer realm="items-api", error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin"',
    );
  });
});

describe('a key-source outage', () => {
  it('is 503 ERR_KEYS_UNAVAILABLE, without a challenge and not exposed', async () => {
    const server = await startKeyServer({ keys: [keys.ES256] });
    try {
      server.setFault({ kind: 'status', status: 500 });
      const guard = guardWith({ keys: undefined, jwksUri: server.jwksUri });
      const error = await refusalOf(guard.verify(mint.sign(keys.ES256)));
      expect({
        code: error.code,
        status: error.status,
        expose: error.expose,
        headers: error.headers,
      }).toEqual({
        code: 'ERR_KEYS_UNAVAILABLE',
        status: 503,
        expose: false,
        headers: {},
      });
    } finally {
      await server.close();
    }
  });
});

describe('isJwtGuardError', () => {
  // A second copy of the package (a duplicate install) has its own class: `instanceof` fails,
  // the shape does not.
  it('accepts a structurally equal error from a duplicate install', () => {
    class DuplicateJwtGuardError extends Error {
      override readonly name = 'JwtGuardError';
      readonly code = 'ERR_TOKEN_EXPIRED';
    }
    expect(isJwtGuardError(new DuplicateJwtGuardError())).toBe(true);
    expect(isJwtGuardError({ name: 'JwtGuardError', code: 'ERR_SCOPE_INSUFFICIENT' })).toBe(true);
  });

  it.each([
    ['an unknown code', { name: 'JwtGuardError', code: 'ERR_NOT_A_CODE' }],
    ['a prototype member as code', { name: 'JwtGuardError', code: 'toString' }],
    ['a code that is not a string', { name: 'JwtGuardError', code: 401 }],
    ['another name', { name: 'Error', code: 'ERR_TOKEN_EXPIRED' }],
    ['a ConfigurationError', new ConfigurationError('x')],
    ['a plain Error', new Error('ERR_TOKEN_EXPIRED')],
    ['null', null],
    ['a string', 'JwtGuardError'],
  ])('rejects %s', (_name, value) => {
    expect(isJwtGuardError(value)).toBe(false);
  });
});

describe('toJSON', () => {
  it('carries the bearer error, the code and the fixed message only', async () => {
    const token = mint.sign(keys.ES256, { sub: 'sub-SECRET-MARKER', exp: clock.nowSeconds() - 60 });
    const error = await refusalOf(guardWith().verify(token));
    expect(error.toJSON()).toEqual({
      error: 'invalid_token',
      code: 'ERR_TOKEN_EXPIRED',
      message: 'The access token expired',
    });
    expect(JSON.parse(JSON.stringify(error))).toEqual(error.toJSON());
  });

  it("uses 'unauthorized' when the code has no bearer error", () => {
    expect(new JwtGuardError('ERR_TOKEN_MISSING').toJSON()).toEqual({
      error: 'unauthorized',
      code: 'ERR_TOKEN_MISSING',
      message: 'Authentication required',
    });
  });

  // RFC 6749 §4.1.2.1 names, so a client reading only `error` still tells an outage from a denial.
  it.each([
    ['ERR_KEYS_UNAVAILABLE', 'temporarily_unavailable'],
    ['ERR_STORE_UNAVAILABLE', 'temporarily_unavailable'],
    ['ERR_CROSS_SITE_REQUEST', 'access_denied'],
  ] as const)('names %s %s in the body', (code, error) => {
    expect(new JwtGuardError(code).toJSON().error).toBe(error);
  });
});

describe('onEvent', () => {
  const record = () => {
    const events: GuardEvent[] = [];
    return { events, guard: guardWith({ onEvent: (event) => events.push(event) }) };
  };

  it('token.accepted names iss, sub, jti, kid, alg and whether the cache answered', async () => {
    const { events, guard } = record();
    const token = mint.sign(keys.ES256, { sub: 'alice', jti: 'jti-1' });
    await guard.verify(token);
    await guard.verify(token);
    const accepted = {
      type: 'token.accepted',
      iss: ISSUER,
      sub: 'alice',
      jti: 'jti-1',
      kid: keys.ES256.kid,
      alg: 'ES256',
    };
    expect(events).toEqual([
      { ...accepted, cached: false },
      { ...accepted, cached: true },
    ]);
    expect(JSON.stringify(events)).not.toContain(token.split('.')[2]);
  });

  it('token.rejected names the code and the identifiers the token claimed', async () => {
    const { events, guard } = record();
    const token = mint.sign(keys.ES256, {
      sub: 'alice',
      jti: 'jti-2',
      exp: clock.nowSeconds() - 60,
    });
    await refusalOf(guard.verify(token));
    expect(events).toEqual([
      {
        type: 'token.rejected',
        code: 'ERR_TOKEN_EXPIRED',
        iss: ISSUER,
        sub: 'alice',
        jti: 'jti-2',
        kid: keys.ES256.kid,
        alg: 'ES256',
        requirement: undefined,
      },
    ]);
    expect(JSON.stringify(events)).not.toContain(token.split('.')[1]);
  });

  it('token.rejected for a missing token carries only the code', async () => {
    const { events, guard } = record();
    await refusalOf(guard.authenticate({ method: 'GET', url: '/', headers: [] }));
    // toEqual treats members set to undefined as absent: nothing else is present.
    expect(events).toEqual([{ type: 'token.rejected', code: 'ERR_TOKEN_MISSING' }]);
  });

  it.each([
    ['scope', { scopes: ['admin'] }, 'ERR_SCOPE_INSUFFICIENT'],
    ['claim:tenant', { claims: [{ claim: 'tenant', equals: 'acme' }] }, 'ERR_CLAIM_MISMATCH'],
    ['audience', { audience: 'https://billing.example/' }, 'ERR_AUDIENCE_INVALID'],
  ] as const)('a failed requirement is named: %s', async (requirement, spec, code) => {
    const { events, guard } = record();
    const token = mint.sign(keys.ES256, { sub: 'alice', jti: 'jti-3', tenant: 'umbrella' });
    const auth = await guard.verify(token);
    refusalOfSync(() => guard.authorize(auth, defineRequirement(spec)));
    expect(events[1]).toEqual({
      type: 'token.rejected',
      code,
      iss: ISSUER,
      sub: 'alice',
      jti: 'jti-3',
      kid: keys.ES256.kid,
      alg: 'ES256',
      requirement,
    });
    expect(JSON.stringify(events)).not.toContain(token);
  });

  it('overlong identifiers are left out, not truncated into the log', async () => {
    const { events, guard } = record();
    await guard.verify(mint.sign(keys.ES256, { sub: 's'.repeat(300) }));
    expect(events[0]).toMatchObject({ type: 'token.accepted', sub: undefined });
  });

  it('identifiers of a forged token are escaped, so they cannot forge a log line', async () => {
    const { events, guard } = record();
    const forged = mint.sign(createTestKey('ES256', { kid: keys.ES256.kid }), {
      sub: 'mallory\nINFO token accepted sub=admin',
      jti: '\u001b[2Jcleared',
    });
    expect((await refusalOf(guard.verify(forged))).code).toBe('ERR_SIGNATURE_INVALID');
    expect(events).toEqual([
      expect.objectContaining({
        type: 'token.rejected',
        sub: 'mallory\\u000aINFO token accepted sub=admin',
        jti: '\\u001b[2Jcleared',
      }),
    ]);
  });

  it('an async listener that rejects is contained, not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const guard = guardWith({
        onEvent: async () => {
          await Promise.resolve();
          throw new Error('audit sink down');
        },
      });
      expect((await refusalOf(guard.verify('garbage'))).code).toBe('ERR_TOKEN_MALFORMED');
      await expect(guard.verify(mint.sign(keys.ES256))).resolves.toMatchObject({
        subject: 'user-1',
      });
      // Node reports unhandled rejections after the microtask queue drains.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a listener that throws changes no outcome', async () => {
    const guard = guardWith({
      onEvent: () => {
        throw new Error('audit sink down');
      },
    });
    const token = mint.sign(keys.ES256, { scope: 'read:items' });
    const auth = await guard.verify(token);
    expect(auth.subject).toBe('user-1');
    await expect(guard.verify(token)).resolves.toBe(auth);
    const expired = await refusalOf(
      guard.verify(mint.sign(keys.ES256, { exp: clock.nowSeconds() - 60 })),
    );
    expect(expired.code).toBe('ERR_TOKEN_EXPIRED');
    expect(
      refusalOfSync(() => guard.authorize(auth, defineRequirement({ scopes: ['admin'] }))).code,
    ).toBe('ERR_SCOPE_INSUFFICIENT');
  });
});
