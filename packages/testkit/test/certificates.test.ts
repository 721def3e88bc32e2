import { createHash, X509Certificate } from 'node:crypto';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  createLocalhostCertificates,
  createTestCertificate,
  type TestCertificate,
} from '@jwt-guard/testkit';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('base64url');

describe('createTestCertificate', () => {
  it('makes a self-signed certificate with its DER and x5t#S256 thumbprint', async () => {
    const made = await createTestCertificate({ commonName: 'client-1' });
    const parsed = new X509Certificate(made.certPem);

    expect(parsed.subject).toBe('CN=client-1');
    expect(parsed.issuer).toBe('CN=client-1');
    expect(parsed.verify(parsed.publicKey)).toBe(true);
    expect(parsed.raw.equals(made.der)).toBe(true);
    expect(made.thumbprintS256).toBe(sha256(made.der));
    expect(made.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });
});

describe('createLocalhostCertificates', () => {
  let ca: TestCertificate;
  let server: TestCertificate;

  beforeAll(async () => {
    ({ ca, server } = await createLocalhostCertificates());
  });

  it('issues a server certificate for 127.0.0.1 and localhost from a CA', () => {
    const parsed = new X509Certificate(server.certPem);
    const authority = new X509Certificate(ca.certPem);

    expect(authority.ca).toBe(true);
    expect(parsed.ca).toBe(false);
    expect(parsed.checkIssued(authority)).toBe(true);
    expect(parsed.verify(authority.publicKey)).toBe(true);
    expect(parsed.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(parsed.checkHost('localhost')).toBe('localhost');
  });

  it('serves HTTPS to a client that trusts the CA and sees its client certificate', async () => {
    const client = await createTestCertificate({ commonName: 'client-1' });
    const https = createServer(
      { key: server.keyPem, cert: server.certPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.end(sha256(peer.raw));
      },
    );
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const { port } = https.address() as AddressInfo;

    try {
      const body = await new Promise<string>((resolve, reject) => {
        request(
          {
            host: '127.0.0.1',
            port,
            path: '/',
            ca: ca.certPem,
            cert: client.certPem,
            key: client.keyPem,
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve(text));
          },
        )
          .on('error', reject)
          .end();
      });

      expect(body).toBe(client.thumbprintS256);
    } finally {
      await new Promise((resolve) => https.close(resolve));
    }
  });
});
