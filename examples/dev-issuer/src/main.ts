#!/usr/bin/env node
import { createDevIssuer, type DevIssuer } from './index.js';

// The dev issuer's command line: starts it from the environment and prints where it is and who
// may ask it for tokens. Examples are the only code in the repository that reads the environment.
//   PORT (default 4000), HOST (default 127.0.0.1), ISSUER_URL (default the listening URL),
//   AUDIENCE: one audience, or several separated by commas (default https://api.example/).
// Example: PORT=4100 AUDIENCE=https://orders.example/ node dist/main.js

async function main(env: NodeJS.ProcessEnv): Promise<DevIssuer> {
  const audiences = env.AUDIENCE?.split(',')
    .map((value) => value.trim())
    .filter((value) => value !== '');
  const issuer = await createDevIssuer({
    port: env.PORT === undefined || env.PORT === '' ? 4000 : Number(env.PORT),
    ...(env.HOST ? { host: env.HOST } : {}),
    ...(env.ISSUER_URL ? { issuerUrl: env.ISSUER_URL } : {}),
    ...(audiences?.length ? { audience: audiences.length === 1 ? audiences[0] : audiences } : {}),
  });

  const audience = typeof issuer.audience === 'string' ? [issuer.audience] : issuer.audience;
  const lines = [
    'dev-issuer: a token server for demos and tests. NOT for production.',
    `  issuer          ${issuer.issuer}`,
    `  discovery       ${issuer.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`,
    `  jwks_uri        ${issuer.jwksUri}`,
    `  token_endpoint  ${issuer.tokenEndpoint}`,
    `  audience        ${audience.join(', ')}`,
    '  dpop            a DPoP proof sent to /token binds the token to its key (token_type DPoP)',
    '',
    // Secrets are never printed: the demo ones are listed in the README.
    'clients (client_credentials; secrets in the README):',
    ...issuer.clients.map(
      (client) =>
        `  ${client.clientId.padEnd(16)} ${(client.alg ?? 'ES256').padEnd(6)} ${client.scopes.join(' ')}` +
        (client.description ? `  (${client.description})` : ''),
    ),
  ];
  console.log(lines.join('\n'));

  const stop = (): void => {
    issuer.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return issuer;
}

main(process.env).catch((error: unknown) => {
  // Startup errors are about options or the port (never about a secret), so the message is safe.
  console.error(`dev-issuer: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
