export { createOrdersApp, type OrdersApiOptions } from './app.js';
