import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { Agent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  ConfigurationError,
  createGuard,
  isJwtGuardError,
  type Guard,
  type GuardOptions,
  type GuardRequest,
} from '@jwt-guard/core';
import {
  createDpopKey,
  createDpopProof,
  createLocalhostCertificates,
  createTestCertificate,
  createTestClock,
  createTokenFactory,
  refusalOf,
  testKeys,
  type DpopKey,
  type TestCertificate,
} from '@jwt-guard/testkit';

// RFC 8705 §3: a token with cnf["x5t#S256"] is accepted only from the TLS client that holds
// the certificate it names. Proven over a real TLS server on 127.0.0.1, with the socket of
// each request handed to the guard as an adapter does.

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'https://api.example/';
const MISMATCH = {
  status: 401,
  code: 'ERR_CERTIFICATE_BINDING_MISMATCH',
  challenge:
    'Bearer error="invalid_token", error_description="The access token is bound to another client certificate"',
};

const keys = testKeys();
const clock = createTestClock();
const mint = createTokenFactory({ issuer: ISSUER, audience: AUDIENCE, clock });

let ca: TestCertificate;
let serverCertificate: TestCertificate;
let selfSigned: TestCertificate;
let issued: TestCertificate;
let stranger: TestCertificate;

beforeAll(async () => {
  ({ ca, server: serverCertificate } = await createLocalhostCertificates());
  [selfSigned, issued, stranger] = await Promise.all([
    createTestCertificate({ commonName: 'client-self-signed' }),
    createTestCertificate({ commonName: 'client-issued', issuer: ca }),
    createTestCertificate({ commonName: 'someone-else' }),
  ]);
});

function guardWith(options: Partial<GuardOptions> = {}): Guard {
  return createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: keys.ES256.jwk,
    clock,
    ...options,
  });
}

function boundTo(certificate: TestCertificate, cnf: Record<string, unknown> = {}): string {
  return mint.sign(keys.ES256, { cnf: { 'x5t#S256': certificate.thumbprintS256, ...cnf } });
}

interface Answer {
  readonly status: number;
  readonly code?: string;
  readonly challenge?: string;
  readonly subject?: string;
  readonly reused?: boolean;
}

// What an adapter does: hand core the method, URL, raw headers and the connection.
function handlerFor(guard: Guard) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const request: GuardRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.rawHeaders,
      socket: req.socket,
    };
    const reused = (req.socket as Partial<TLSSocket>).isSessionReused?.() ?? false;
    guard.authenticate(request).then(
      (auth) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 200, subject: auth.subject, reused }));
      },
      (error: unknown) => {
        if (!isJwtGuardError(error)) {
          res.writeHead(500).end(JSON.stringify({ status: 500 }));
          return;
        }
        res.writeHead(error.status, error.headers);
        res.end(
          JSON.stringify({
            status: error.status,
            code: error.code,
            challenge: error.headers['WWW-Authenticate'],
          }),
        );
      },
    );
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function read(res: IncomingMessage): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body += chunk));
    res.on('end', () => resolve(JSON.parse(body) as Answer));
    res.on('error', reject);
  });
}

describe('over a real TLS connection', () => {
  let server: Server;
  let port: number;
  const guard = guardWith();

  beforeAll(async () => {
    server = createHttpsServer(
      {
        key: serverCertificate.keyPem,
        cert: serverCertificate.certPem,
        // RFC 8705 §2.2: self-signed client certificates are bound by thumbprint, so the
        // handshake asks for a certificate without requiring a CA to vouch for it.
        requestCert: true,
        rejectUnauthorized: false,
      },
      handlerFor(guard),
    );
    port = await listen(server);
  });
  afterAll(() => close(server));

  function call(
    token: string,
    options: {
      certificate?: TestCertificate;
      agent?: Agent | false;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/orders',
          method: 'GET',
          ca: ca.certPem,
          cert: options.certificate?.certPem,
          key: options.certificate?.keyPem,
          agent: options.agent ?? false,
          headers: { authorization: `Bearer ${token}`, ...options.headers },
        },
        (res) => void read(res).then(resolve, reject),
      );
      req.on('error', reject);
      req.end();
    });
  }

  it.each([
    ['self-signed', () => selfSigned],
    ['CA-issued', () => issued],
  ])('accepts a token bound to the %s client certificate presented', async (_, certificate) => {
    const token = boundTo(certificate());
    await expect(call(token, { certificate: certificate() })).resolves.toMatchObject({
      status: 200,
      subject: 'user-1',
    });
  });

  it('refuses the token from a client presenting another certificate', async () => {
    await expect(call(boundTo(selfSigned), { certificate: stranger })).resolves.toEqual(MISMATCH);
    await expect(call(boundTo(selfSigned), { certificate: issued })).resolves.toEqual(MISMATCH);
  });

  it('refuses the token from a client presenting no certificate', async () => {
    await expect(call(boundTo(selfSigned))).resolves.toEqual(MISMATCH);
  });

  it('accepts an unbound token with or without a client certificate', async () => {
    const token = mint.sign(keys.ES256);
    await expect(call(token)).resolves.toMatchObject({ status: 200 });
    await expect(call(token, { certificate: stranger })).resolves.toMatchObject({ status: 200 });
  });

  it('checks the certificate on each request, also when the token comes from the cache', async () => {
    const token = boundTo(issued);
    await expect(call(token, { certificate: issued })).resolves.toMatchObject({ status: 200 });
    await expect(call(token, { certificate: stranger })).resolves.toEqual(MISMATCH);
    await expect(call(token)).resolves.toEqual(MISMATCH);
    await expect(call(token, { certificate: issued })).resolves.toMatchObject({ status: 200 });
  });

  it('still sees the certificate on a resumed TLS session', async () => {
    const agent = new Agent({ keepAlive: false, maxCachedSessions: 10 });
    try {
      const token = boundTo(selfSigned);
      const first = await call(token, { certificate: selfSigned, agent });
      expect(first).toMatchObject({ status: 200, reused: false });
      // TLS 1.3 sends its session tickets after the handshake; wait for one to be cached.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = await call(token, { certificate: selfSigned, agent });
      expect(second).toMatchObject({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });

  it('serves several requests on one kept-alive connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const token = boundTo(selfSigned);
      for (let i = 0; i < 3; i++) {
        await expect(call(token, { certificate: selfSigned, agent })).resolves.toMatchObject({
          status: 200,
        });
      }
    } finally {
      agent.destroy();
    }
  });

  it('ignores a certificate header when no trusted proxy is configured', async () => {
    const token = boundTo(selfSigned);
    const headers = { 'x-client-cert': encodeURIComponent(selfSigned.certPem) };
    await expect(call(token, { headers })).resolves.toEqual(MISMATCH);
    await expect(call(token, { headers, certificate: stranger })).resolves.toEqual(MISMATCH);
  });
});

describe('a token bound to both a certificate and a DPoP key', () => {
  let server: Server;
  let port: number;
  let dpopKey: DpopKey;
  const origin = 'https://api.example';
  const guard = guardWith({ dpop: { origin, algorithms: ['ES256'] } });

  beforeAll(async () => {
    dpopKey = await createDpopKey('ES256');
    server = createHttpsServer(
      {
        key: serverCertificate.keyPem,
        cert: serverCertificate.certPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      handlerFor(guard),
    );
    port = await listen(server);
  });
  afterAll(() => close(server));

  function call(token: string, certificate: TestCertificate | undefined): Promise<Answer> {
    const proof = createDpopProof(dpopKey, {
      htm: 'GET',
      htu: `${origin}/orders`,
      accessToken: token,
      iatSeconds: clock.nowSeconds(),
    });
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/orders',
          ca: ca.certPem,
          cert: certificate?.certPem,
          key: certificate?.keyPem,
          agent: false,
          headers: { authorization: `DPoP ${token}`, dpop: proof },
        },
        (res) => void read(res).then(resolve, reject),
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('needs both: the certificate and a proof from the key', async () => {
    const token = boundTo(selfSigned, { jkt: dpopKey.thumbprint });
    await expect(call(token, selfSigned)).resolves.toMatchObject({ status: 200 });
    await expect(call(token, undefined)).resolves.toEqual({
      ...MISMATCH,
      challenge: `DPoP error="invalid_token", error_description="The access token is bound to another client certificate", algs="ES256", Bearer`,
    });
  });
});

describe('without TLS', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createHttpServer(handlerFor(guardWith()));
    port = await listen(server);
  });
  afterAll(() => close(server));

  it('refuses a certificate-bound token on a plain HTTP connection', async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          agent: false,
          headers: { authorization: `Bearer ${boundTo(selfSigned)}` },
        },
        (res) => void read(res).then(resolve, reject),
      );
      req.on('error', reject);
      req.end();
    });
    expect(answer).toEqual(MISMATCH);
  });

  it('refuses a certificate-bound token given to verify(), which has no connection', async () => {
    const error = await refusalOf(guardWith().verify(boundTo(selfSigned)));
    expect({
      status: error.status,
      code: error.code,
      challenge: error.headers['WWW-Authenticate'],
    }).toEqual(MISMATCH);
  });
});

describe('behind a TLS-terminating proxy (mtls.certificateHeader)', () => {
  const proxied = guardWith({ mtls: { certificateHeader: 'X-Client-Cert' } });

  function request(
    token: string,
    headers: readonly string[],
    socket?: GuardRequest['socket'],
  ): GuardRequest {
    return {
      method: 'GET',
      url: '/',
      headers: ['Authorization', `Bearer ${token}`, ...headers],
      socket,
    };
  }

  async function expectMismatch(guard: Guard, req: GuardRequest): Promise<void> {
    const error = await refusalOf(guard.authenticate(req));
    expect({
      status: error.status,
      code: error.code,
      challenge: error.headers['WWW-Authenticate'],
    }).toEqual(MISMATCH);
  }

  const der = (c: TestCertificate) => c.der.toString('base64');
  it.each<[string, (c: TestCertificate) => string]>([
    ['PEM', (c) => c.certPem],
    ['URL-encoded PEM (nginx $ssl_client_escaped_cert)', (c) => encodeURIComponent(c.certPem)],
    [
      'URL-encoded PEM keeping + = / (AWS ALB)',
      (c) => c.certPem.replace(/\n/g, '%0A').replace(/ /g, '%20'),
    ],
    ['PEM on one line, newlines turned to spaces', (c) => c.certPem.replace(/\n/g, ' ')],
    ['PEM on one line, newlines turned to tabs', (c) => c.certPem.replace(/\n/g, '\t')],
    ['base64 DER', der],
    ['an RFC 9440 Client-Cert byte sequence', (c) => `:${der(c)}:`],
  ])('accepts the certificate as %s', async (_, encode) => {
    const token = boundTo(issued);
    await expect(
      proxied.authenticate(request(token, ['x-client-cert', encode(issued)])),
    ).resolves.toMatchObject({ token });
    // The same encoding of another certificate is refused.
    await expectMismatch(proxied, request(token, ['x-client-cert', encode(stranger)]));
  });

  it.each<[string, () => string[]]>([
    ['no header', () => []],
    ['an empty header', () => ['X-Client-Cert', '']],
    ['garbage', () => ['X-Client-Cert', 'not a certificate']],
    [
      'a broken PEM',
      () => [
        'X-Client-Cert',
        `${selfSigned.certPem.slice(0, 100)}${selfSigned.certPem[100] === 'A' ? 'B' : 'A'}${selfSigned.certPem.slice(101)}`,
      ],
    ],
    ['malformed URL-encoding', () => ['X-Client-Cert', '%E0%A4%A']],
    ['two headers', () => ['X-Client-Cert', der(selfSigned), 'x-client-cert', der(selfSigned)]],
    ['a header far too long', () => ['X-Client-Cert', `${der(selfSigned)}${'A'.repeat(20_000)}`]],
    [
      'the thumbprint instead of the certificate',
      () => ['X-Client-Cert', selfSigned.thumbprintS256],
    ],
  ])('refuses %s', async (_, headers) => {
    await expectMismatch(proxied, request(boundTo(selfSigned), headers()));
  });

  it('reads only the header once configured: the connection’s certificate is not used', async () => {
    const socket = { getPeerCertificate: () => ({ raw: selfSigned.der }) };
    const token = boundTo(selfSigned);
    await expectMismatch(proxied, request(token, [], socket));
    // Without the option the same socket is what counts, and a header is ignored.
    const direct = guardWith();
    await expect(direct.authenticate(request(token, [], socket))).resolves.toMatchObject({ token });
    await expectMismatch(direct, request(token, ['X-Client-Cert', der(selfSigned)]));
  });

  it('treats a socket without a certificate as no certificate', async () => {
    const direct = guardWith();
    const token = boundTo(selfSigned);
    for (const socket of [
      {},
      { getPeerCertificate: () => ({}) },
      { getPeerCertificate: () => null },
      { getPeerCertificate: () => ({ raw: new Uint8Array(0) }) },
    ]) {
      await expectMismatch(direct, request(token, [], socket));
    }
  });

  it.each<[string, unknown, string]>([
    [
      'a header name with a space',
      { certificateHeader: 'x client cert' },
      '"mtls.certificateHeader" must be a header name',
    ],
    [
      'an empty header name',
      { certificateHeader: '' },
      '"mtls.certificateHeader" must be a header name',
    ],
    ['an unknown option', { header: 'x-client-cert' }, '"mtls": unknown option "header"'],
    ['not an object', 'x-client-cert', '"mtls" must be an object'],
  ])('refuses %s at construction', (_, mtls, message) => {
    const make = () => guardWith({ mtls: mtls as GuardOptions['mtls'] });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(message);
  });
});
