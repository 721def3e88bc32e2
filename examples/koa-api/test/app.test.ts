// The orders API's scenarios, shared with the Express and NestJS examples, on Koa.
import { createServer } from 'node:http';
import { ordersApiTests, type OrdersApiHarness } from '@jwt-guard/testkit/jest';
// The dev issuer is an example, not a package: no path mapping reaches it, so its sources are
// imported directly (its dist may not be built).
import { createDevIssuer } from '../../dev-issuer/src/index.js';
import { createOrdersApp } from '../src/index.js';

const harness: OrdersApiHarness = {
  createIssuer: createDevIssuer,
  createApp(options) {
    const handle = createOrdersApp(options).callback();
    return Promise.resolve({
      server: createServer((req, res) => {
        void handle(req, res);
      }),
    });
  },
};

describe('orders API on Koa', () => ordersApiTests(harness));
