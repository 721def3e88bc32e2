import { createGuard, type GuardOptions, type GuardRequest } from '@jwt-guard/core';
import {
  bearerRequest,
  createTestClock,
  createTokenFactory,
  refusalOf,
  testKeys,
} from '@jwt-guard/testkit';

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });
const token = mint.sign(keys.ES256);
const otherToken = mint.sign(keys.ES256);

function guardWith(options: Partial<GuardOptions> = {}) {
  return createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
    keys: keys.ES256.jwk,
    ...options,
  });
}

const invalidRequest = (text: string) =>
  `Bearer error="invalid_request", error_description="${text}"`;

describe('the Authorization header (RFC 6750 §2.1)', () => {
  const guard = guardWith();
  const withHeaders = (headers: GuardRequest['headers']): GuardRequest => ({
    method: 'GET',
    url: '/items',
    headers,
  });

  it.each(['Bearer', 'bearer', 'BEARER', 'bEaReR'])(
    'scheme %s is accepted (case-insensitive)',
    async (scheme) => {
      const auth = await guard.authenticate(withHeaders(['Authorization', `${scheme} ${token}`]));
      expect(auth.token).toBe(token);
    },
  );

  // Node's parsed `headers` keep only the first of two; a proxy may have read the other.
  it('two Authorization headers → 400 ERR_MULTIPLE_AUTHORIZATION', async () => {
    const error = await refusalOf(
      guard.authenticate(
        withHeaders(['Authorization', `Bearer ${token}`, 'authorization', `Bearer ${otherToken}`]),
      ),
    );
    expect({ code: error.code, status: error.status }).toEqual({
      code: 'ERR_MULTIPLE_AUTHORIZATION',
      status: 400,
    });
    expect(error.headers['WWW-Authenticate']).toBe(
      invalidRequest('More than one Authorization header was sent'),
    );
  });

  it('two identical Authorization headers are refused too', async () => {
    const error = await refusalOf(
      guard.authenticate(
        withHeaders(['Authorization', `Bearer ${token}`, 'Authorization', `Bearer ${token}`]),
      ),
    );
    expect(error.code).toBe('ERR_MULTIPLE_AUTHORIZATION');
  });

  it.each([
    'Basic dXNlcjpwYXNz',
    `Digest ${token}`,
    `Token ${token}`,
    `Bearer-${token}`,
    'Basic\tdXNlcjpwYXNz',
  ])('another scheme (%s) is no bearer credential → 401 ERR_TOKEN_MISSING', async (value) => {
    const error = await refusalOf(guard.authenticate(withHeaders(['Authorization', value])));
    expect({ code: error.code, status: error.status }).toEqual({
      code: 'ERR_TOKEN_MISSING',
      status: 401,
    });
    // RFC 6750 §3.1: no error attribute when no bearer credentials were sent.
    expect(error.headers['WWW-Authenticate']).toBe('Bearer');
  });

  it.each([
    'Bearer',
    'Bearer ',
    'Bearer   ',
    `Bearer ${token} extra`,
    `Bearer ${token},x`,
    'Bearer "abc"',
    // RFC 9110 §11.4: one or more SP, nothing else, between scheme and token; a proxy that
    // follows the grammar would read these otherwise than trim() does.
    `Bearer\t${token}`,
    `Bearer \t${token}`,
    `Bearer\u00a0${token}`,
    `Bearer \u00a0${token}`,
    `Bearer ${token}\u00a0`,
    `Bearer \ufeff${token}`,
    `\u00a0Bearer ${token}`,
    `\ufeffBearer ${token}`,
  ])('%j → 400 ERR_AUTHORIZATION_MALFORMED', async (value) => {
    const error = await refusalOf(guard.authenticate(withHeaders(['Authorization', value])));
    expect({ code: error.code, status: error.status }).toEqual({
      code: 'ERR_AUTHORIZATION_MALFORMED',
      status: 400,
    });
    expect(error.headers['WWW-Authenticate']).toBe(
      invalidRequest('The Authorization header is malformed'),
    );
  });

  it('no header at all → 401 ERR_TOKEN_MISSING without error attribute', async () => {
    const error = await refusalOf(guard.authenticate(withHeaders([])));
    expect({
      code: error.code,
      status: error.status,
      challenge: error.headers['WWW-Authenticate'],
    }).toEqual({
      code: 'ERR_TOKEN_MISSING',
      status: 401,
      challenge: 'Bearer',
    });
  });

  describe('header shapes', () => {
    it('a Node-style header object', async () => {
      await expect(
        guard.authenticate(withHeaders({ authorization: `Bearer ${token}` })),
      ).resolves.toMatchObject({
        token,
      });
    });

    it('a header object whose value is a list of two → ERR_MULTIPLE_AUTHORIZATION', async () => {
      const error = await refusalOf(
        guard.authenticate(
          withHeaders({ authorization: [`Bearer ${token}`, `Bearer ${otherToken}`] }),
        ),
      );
      expect(error.code).toBe('ERR_MULTIPLE_AUTHORIZATION');
    });

    it('a header object with the name in two cases → ERR_MULTIPLE_AUTHORIZATION', async () => {
      const error = await refusalOf(
        guard.authenticate(
          withHeaders({ Authorization: `Bearer ${token}`, authorization: `Bearer ${otherToken}` }),
        ),
      );
      expect(error.code).toBe('ERR_MULTIPLE_AUTHORIZATION');
    });

    it('a WHATWG Headers', async () => {
      const headers = new Headers({ Authorization: `Bearer ${token}` });
      await expect(guard.authenticate(withHeaders(headers))).resolves.toMatchObject({ token });
    });
  });
});

describe('query-string tokens (RFC 6750 §2.3, off by default)', () => {
  it('access_token in the query is ignored by default → ERR_TOKEN_MISSING', async () => {
    const error = await refusalOf(
      guardWith().authenticate({ method: 'GET', url: `/items?access_token=${token}`, headers: [] }),
    );
    expect(error.code).toBe('ERR_TOKEN_MISSING');
  });

  describe('when tokenLocations includes query', () => {
    const guard = guardWith({ tokenLocations: ['header', 'query'] });

    it('is honoured', async () => {
      const auth = await guard.authenticate({
        method: 'GET',
        url: `/items?a=1&access_token=${token}`,
        headers: [],
      });
      expect(auth.token).toBe(token);
    });

    it('with the header as well → 400 ERR_MULTIPLE_TOKENS (RFC 6750 §2: one method only)', async () => {
      const error = await refusalOf(
        guard.authenticate(bearerRequest(token, { url: `/items?access_token=${token}` })),
      );
      expect({ code: error.code, status: error.status }).toEqual({
        code: 'ERR_MULTIPLE_TOKENS',
        status: 400,
      });
      expect(error.headers['WWW-Authenticate']).toBe(
        invalidRequest('The access token was sent by more than one method'),
      );
    });

    it('twice in the query → 400 ERR_MULTIPLE_TOKENS', async () => {
      const error = await refusalOf(
        guard.authenticate({
          method: 'GET',
          url: `/?access_token=${token}&access_token=${otherToken}`,
          headers: [],
        }),
      );
      expect(error.code).toBe('ERR_MULTIPLE_TOKENS');
    });
  });
});

describe('cookie tokens (opt-in, with a same-origin proof for unsafe methods)', () => {
  const guard = guardWith({
    tokenLocations: ['cookie'],
    cookie: { name: 'at', allowedOrigins: ['https://app.example'] },
  });
  const cookieRequest = (method: string, headers: string[] = []): GuardRequest => ({
    method,
    url: '/items',
    headers: ['Host', 'api.example', 'Cookie', `theme=dark; at=${token}`, ...headers],
  });

  it.each(['GET', 'HEAD', 'OPTIONS'])(
    '%s with the cookie is accepted without proof',
    async (method) => {
      await expect(guard.authenticate(cookieRequest(method))).resolves.toMatchObject({ token });
    },
  );

  it('pre-parsed cookies are used when the framework gives them', async () => {
    const request = { method: 'GET', url: '/', headers: [], cookies: { at: token } };
    await expect(guard.authenticate(request)).resolves.toMatchObject({ token });
  });

  it.each([
    ['no Origin and no Sec-Fetch-Site', []],
    ['Sec-Fetch-Site: cross-site', ['Sec-Fetch-Site', 'cross-site']],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', ['Sec-Fetch-Site', 'same-site']],
    ['Sec-Fetch-Site: none', ['Sec-Fetch-Site', 'none']],
    ['a foreign Origin', ['Origin', 'https://evil.example']],
    ['Origin null', ['Origin', 'null']],
    ['an Origin on another port', ['Origin', 'https://api.example:8443']],
    ['two Origin headers', ['Origin', 'https://app.example', 'Origin', 'https://evil.example']],
    // A network attacker serves the plain-HTTP twin of our host; only HTTPS (or loopback) pages
    // prove anything by their host.
    ['a plain-HTTP Origin matching Host', ['Origin', 'http://api.example']],
    // Fetch Metadata, when sent, is the browser's own verdict; a matching Origin does not
    // overrule it.
    [
      'Sec-Fetch-Site: cross-site and an Origin matching Host',
      ['Sec-Fetch-Site', 'cross-site', 'Origin', 'https://api.example'],
    ],
    [
      'Sec-Fetch-Site: same-site and an Origin matching Host',
      ['Sec-Fetch-Site', 'same-site', 'Origin', 'https://api.example'],
    ],
  ])('POST with %s → 403 ERR_CROSS_SITE_REQUEST, no challenge', async (_name, headers) => {
    const error = await refusalOf(guard.authenticate(cookieRequest('POST', headers)));
    expect({ code: error.code, status: error.status, headers: error.headers }).toEqual({
      code: 'ERR_CROSS_SITE_REQUEST',
      status: 403,
      headers: {},
    });
  });

  it.each([
    ['Sec-Fetch-Site: same-origin', ['Sec-Fetch-Site', 'same-origin']],
    ['an Origin in allowedOrigins', ['Origin', 'https://app.example']],
    ['an Origin matching Host', ['Origin', 'https://api.example']],
    ['an Origin matching Host in other letter case', ['Origin', 'https://API.example']],
    [
      'Sec-Fetch-Site: same-site from an Origin in allowedOrigins',
      ['Sec-Fetch-Site', 'same-site', 'Origin', 'https://app.example'],
    ],
  ])('POST with %s is accepted', async (_name, headers) => {
    await expect(guard.authenticate(cookieRequest('POST', headers))).resolves.toMatchObject({
      token,
    });
  });

  it('POST from a plain-HTTP page on loopback matching Host is accepted (local development)', async () => {
    const request = {
      method: 'POST',
      url: '/items',
      headers: [
        'Host',
        '127.0.0.1:3000',
        'Cookie',
        `at=${token}`,
        'Origin',
        'http://127.0.0.1:3000',
      ],
    };
    await expect(guard.authenticate(request)).resolves.toMatchObject({ token });
  });

  it('POST with an Origin matching a Host written in capitals is accepted', async () => {
    const request = {
      method: 'POST',
      url: '/items',
      headers: ['Host', 'API.Example', 'Cookie', `at=${token}`, 'Origin', 'https://api.example'],
    };
    await expect(guard.authenticate(request)).resolves.toMatchObject({ token });
  });

  it.each(['PUT', 'PATCH', 'DELETE', 'post'])('%s needs the proof as well', async (method) => {
    expect((await refusalOf(guard.authenticate(cookieRequest(method)))).code).toBe(
      'ERR_CROSS_SITE_REQUEST',
    );
  });

  it('the Authorization header is ignored when only cookies are configured', async () => {
    expect((await refusalOf(guard.authenticate(bearerRequest(token)))).code).toBe(
      'ERR_TOKEN_MISSING',
    );
  });

  it('two cookies of the token name → 400 ERR_MULTIPLE_TOKENS', async () => {
    const request = {
      method: 'GET',
      url: '/',
      headers: ['Cookie', `at=${token}; at=${otherToken}`],
    };
    expect((await refusalOf(guard.authenticate(request))).code).toBe('ERR_MULTIPLE_TOKENS');
  });

  it('a cookie and a header when both are configured → 400 ERR_MULTIPLE_TOKENS', async () => {
    const both = guardWith({ tokenLocations: ['header', 'cookie'], cookie: { name: 'at' } });
    const request = bearerRequest(token, { headers: ['Cookie', `at=${otherToken}`] });
    expect((await refusalOf(both.authenticate(request))).code).toBe('ERR_MULTIPLE_TOKENS');
  });
});
