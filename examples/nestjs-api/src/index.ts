export { createOrdersApp, OrdersModule, type OrdersApiOptions } from './app.js';
