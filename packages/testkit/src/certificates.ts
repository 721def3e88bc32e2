import { createHash, randomBytes, webcrypto } from 'node:crypto';

/**
 * An X.509 certificate and its private key, for mTLS tests (RFC 8705).
 *
 * @example
 * ```ts
 * const client: TestCertificate = await createTestCertificate({ commonName: 'client-1' });
 * const token = mint.sign(keys.ES256, { cnf: { 'x5t#S256': client.thumbprintS256 } });
 * await sendRequest(server.origin, { path: '/me', ca: ca.certPem, certificate: client });
 * ```
 */
export interface TestCertificate {
  readonly commonName: string;
  readonly certPem: string;
  /** PKCS #8 PEM of the private key (ECDSA P-256). */
  readonly keyPem: string;
  /** The certificate's DER bytes. */
  readonly der: Buffer;
  /** base64url SHA-256 of `der`: the token's `cnf['x5t#S256']` (RFC 8705 §3.1). */
  readonly thumbprintS256: string;
}

/**
 * Options of {@link createTestCertificate}.
 *
 * @example
 * ```ts
 * const options: TestCertificateOptions = {
 *   commonName: 'localhost',
 *   issuer: ca,
 *   subjectAltNames: { ip: ['127.0.0.1'], dns: ['localhost'] },
 *   validitySeconds: 3600,
 * };
 * const server = await createTestCertificate(options);
 * ```
 */
export interface TestCertificateOptions {
  readonly commonName: string;
  /** The certificate authority that signs; default: self-signed. */
  readonly issuer?: TestCertificate;
  /** Makes a CA certificate (basicConstraints CA, keyCertSign) that can be an `issuer`. */
  readonly certificateAuthority?: boolean;
  /** subjectAltName entries, e.g. `{ ip: ['127.0.0.1'], dns: ['localhost'] }`. */
  readonly subjectAltNames?: { readonly dns?: readonly string[]; readonly ip?: readonly string[] };
  /** Default: one day. */
  readonly validitySeconds?: number;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

let x509Module: Promise<typeof import('@peculiar/x509')> | undefined;

// Loaded on first use so that tests without certificates never install the Reflect polyfill
// that @peculiar/x509's dependency injection (tsyringe) needs.
function loadX509(): Promise<typeof import('@peculiar/x509')> {
  x509Module ??= import('reflect-metadata').then(async () => {
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  });
  return x509Module;
}

function pem(label: string, der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function pemBody(text: string): Buffer {
  return Buffer.from(text.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}

/**
 * Makes an ECDSA P-256 certificate: self-signed, or issued by a test CA. Pure JavaScript
 * (no openssl binary), so it runs on any machine with Node.
 *
 * @example
 * ```ts
 * const client = await createTestCertificate({ commonName: 'client-1' });
 * const token = await server.requestToken({ clientId: 'svc', scope: 'read', certificate: client });
 * expect(token.claims.cnf).toEqual({ 'x5t#S256': client.thumbprintS256 });
 * ```
 */
export async function createTestCertificate(
  options: TestCertificateOptions,
): Promise<TestCertificate> {
  const x509 = await loadX509();
  const { subtle } = webcrypto;
  const keys = await subtle.generateKey(EC, true, ['sign', 'verify']);
  const issuerCert = options.issuer && new x509.X509Certificate(options.issuer.certPem);
  const signingKey = options.issuer
    ? await subtle.importKey('pkcs8', pemBody(options.issuer.keyPem), EC, false, ['sign'])
    : keys.privateKey;

  const { KeyUsageFlags: usage } = x509;
  const altNames = [
    ...(options.subjectAltNames?.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.subjectAltNames?.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions = [
    new x509.BasicConstraintsExtension(options.certificateAuthority === true, undefined, true),
    new x509.KeyUsagesExtension(
      options.certificateAuthority ? usage.keyCertSign | usage.cRLSign : usage.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ...(issuerCert
      ? [await x509.AuthorityKeyIdentifierExtension.create(issuerCert.publicKey)]
      : []),
    ...(options.certificateAuthority
      ? []
      : [
          new x509.ExtendedKeyUsageExtension([
            x509.ExtendedKeyUsage.serverAuth,
            x509.ExtendedKeyUsage.clientAuth,
          ]),
        ]),
    ...(altNames.length > 0 ? [new x509.SubjectAlternativeNameExtension(altNames)] : []),
  ];

  const subject = `CN=${options.commonName}`;
  // Backdated a minute so that a peer whose clock is slightly behind accepts it.
  const notBefore = new Date(Date.now() - 60_000);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: `01${randomBytes(15).toString('hex')}`,
    subject,
    issuer: issuerCert?.subject ?? subject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.validitySeconds ?? 86_400) * 1000 + 60_000),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: EC,
    extensions,
  });

  const der = Buffer.from(certificate.rawData);
  return {
    commonName: options.commonName,
    certPem: pem('CERTIFICATE', der),
    keyPem: pem('PRIVATE KEY', new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey))),
    der,
    thumbprintS256: createHash('sha256').update(der).digest('base64url'),
  };
}

/**
 * Makes a test CA and a server certificate it issued for `127.0.0.1` and `localhost`, for an
 * HTTPS server in a test (clients trust `ca.certPem`).
 *
 * @example
 * ```ts
 * const { ca, server } = await createLocalhostCertificates();
 * const https = createServer({ key: server.keyPem, cert: server.certPem, requestCert: true,
 *   rejectUnauthorized: false }, handler);
 * ```
 */
export async function createLocalhostCertificates(): Promise<{
  ca: TestCertificate;
  server: TestCertificate;
}> {
  const ca = await createTestCertificate({
    commonName: 'jwt-guard test CA',
    certificateAuthority: true,
  });
  const server = await createTestCertificate({
    commonName: 'localhost',
    issuer: ca,
    subjectAltNames: { ip: ['127.0.0.1'], dns: ['localhost'] },
  });
  return { ca, server };
}
