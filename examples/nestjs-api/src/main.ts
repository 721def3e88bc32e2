// Starts the orders API. Examples are the only code that reads the environment.
import { createOrdersApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const issuer = process.env.ISSUER_URL ?? 'http://127.0.0.1:9000';
const audience = process.env.AUDIENCE ?? 'https://api.example/';

void createOrdersApp({ issuer, audience }).then(async (app) => {
  await app.listen(port, '127.0.0.1');
  console.log(
    `orders API (nestjs) on http://127.0.0.1:${port}, trusting ${issuer} for ${audience}`,
  );
});
