// The orders API's scenarios, shared with the Koa and NestJS examples, on Express.
import { createServer } from 'node:http';
import { ordersApiTests, type OrdersApiHarness } from '@jwt-guard/testkit/jest';
// The dev issuer is an example, not a package: no path mapping reaches it, so its sources are
// imported directly (its dist may not be built).
import { createDevIssuer } from '../../dev-issuer/src/index.js';
import { createOrdersApp } from '../src/index.js';

const harness: OrdersApiHarness = {
  createIssuer: createDevIssuer,
  createApp(options) {
    const app = createOrdersApp(options);
    // Under jest NODE_ENV is 'test', in which Express's final handler neither logs nor sends a
    // stack; the API must not leak a body in the environments where it would.
    app.set('env', 'development');
    return Promise.resolve({ server: createServer(app) });
  },
};

describe('orders API on Express', () => ordersApiTests(harness));
