// The orders API's scenarios, shared with the Express and Koa examples, on NestJS.
import { ordersApiTests, type OrdersApiHarness } from '@jwt-guard/testkit/jest';
// The dev issuer is an example, not a package: no path mapping reaches it, so its sources are
// imported directly (its dist may not be built).
import { createDevIssuer } from '../../dev-issuer/src/index.js';
import { createOrdersApp } from '../src/index.js';

const harness: OrdersApiHarness = {
  createIssuer: createDevIssuer,
  async createApp(options) {
    const app = await createOrdersApp(options);
    // Routes and middleware are set up by init(); the suite listens with the server itself.
    await app.init();
    return { server: app.getHttpServer(), close: () => app.close() };
  },
};

describe('orders API on NestJS', () => ordersApiTests(harness));
