import Router from '@koa/router';
import Koa from 'koa';
import { createMemoryStore, isJwtGuardError, type TokenStore } from '@jwt-guard/core';
import { jwtGuard, requireDpop, requireScope } from '@jwt-guard/koa';
import { readJsonObject } from './body.js';

/** What the orders API needs to know about its authorization server. */
export interface OrdersApiOptions {
  /** The exact `iss` of the tokens; keys are found by discovery from it. */
  readonly issuer: string;
  /** This API's identifier, the `aud` its tokens must carry. */
  readonly audience: string;
  /**
   * The origin clients call this API at (scheme, host, port: `https://orders.example`), which
   * DPoP proofs name in `htu`. Configured, never read from a request's `Host`, which the
   * client controls.
   */
  readonly publicOrigin: string;
  /** Revocations and spent DPoP proofs; in memory unless a shared store (Redis) is given. */
  readonly store?: TokenStore;
}

interface Order {
  readonly id: number;
  readonly item: string;
  readonly quantity: number;
  readonly placedBy: string;
}

const CATALOG = [
  { sku: 'tea-earl-grey', name: 'Earl Grey, 100 g', price: 6.5 },
  { sku: 'tea-sencha', name: 'Sencha, 100 g', price: 8.9 },
];

// The caller's orders with what they cost (`null` for an item not in the catalogue).
function invoicesOf(orders: readonly Order[], subject: string | undefined) {
  return orders
    .filter((order) => order.placedBy === subject)
    .map((order) => {
      const price = CATALOG.find((entry) => entry.sku === order.item)?.price;
      const total = price === undefined ? null : Math.round(price * order.quantity * 100) / 100;
      return { order: order.id, item: order.item, quantity: order.quantity, total };
    });
}

/**
 * The orders API of the Express example, on Koa: the catalogue is public, reading orders
 * needs `orders:read`, placing one `orders:write`, and revoking a token `admin`; the invoices
 * need `orders:read` and a DPoP-bound token. Bearer and DPoP tokens are both accepted elsewhere.
 *
 * @example
 * ```ts
 * createOrdersApp({
 *   issuer: 'http://127.0.0.1:4000',
 *   audience: 'https://api.example/',
 *   publicOrigin: 'http://127.0.0.1:3001',
 * }).listen(3001, '127.0.0.1');
 * ```
 */
export function createOrdersApp(options: OrdersApiOptions): Koa {
  const store = options.store ?? createMemoryStore();
  const guard = jwtGuard({
    issuer: options.issuer,
    audience: options.audience,
    store,
    dpop: { mode: 'allowed', origin: options.publicOrigin },
  });
  const orders: Order[] = [];
  const app = new Koa();

  // Guard errors carry status, headers and expose, which Koa's onerror already honours; this
  // only swaps its text body for JSON with the stable code.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!isJwtGuardError(error)) throw error;
      ctx.status = error.status;
      ctx.set(error.headers);
      ctx.body = error;
    }
  });

  const open = new Router();
  open.get('/catalog', (ctx) => {
    ctx.body = CATALOG;
  });
  app.use(open.routes());

  const api = new Router();
  api.use(guard);
  api.get('/orders', requireScope('orders:read'), (ctx) => {
    ctx.body = orders.filter((order) => order.placedBy === ctx.state.auth.subject);
  });
  api.post('/orders', requireScope('orders:write'), async (ctx) => {
    const body = await readJsonObject(ctx);
    if (body === undefined) return;
    const { item, quantity } = body;
    if (typeof item !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1) {
      ctx.status = 400;
      ctx.body = {
        error: 'invalid_order',
        message: 'item (string) and quantity (≥ 1) are required',
      };
      return;
    }
    const order = {
      id: orders.length + 1,
      item,
      quantity: quantity as number,
      placedBy: ctx.state.auth.subject ?? 'unknown',
    };
    orders.push(order);
    ctx.status = 201;
    ctx.body = order;
  });
  // Invoices are worth stealing a token for: only a DPoP-bound token, sent with a fresh proof
  // by its key, opens them (RFC 9449), so a token copied out of a log or a proxy is not enough.
  api.get('/invoices', requireDpop(), requireScope('orders:read'), (ctx) => {
    ctx.body = invoicesOf(orders, ctx.state.auth.subject);
  });
  // Revokes the token in the body until it would have expired: it must be one of ours.
  api.post('/admin/revocations', requireScope('admin'), async (ctx) => {
    const body = await readJsonObject(ctx);
    if (body === undefined) return;
    const { token } = body;
    let target;
    try {
      target = await guard.guard.verify(typeof token === 'string' ? token : '', {
        senderConstraint: 'ignore',
      });
    } catch (error) {
      // The caller's own token was fine; the one in the body is not revocable.
      if (!isJwtGuardError(error)) throw error;
      ctx.status = 400;
      ctx.body = { error: 'invalid_target_token', code: error.code };
      return;
    }
    const { jti, exp } = target.claims;
    if (jti === undefined || exp === undefined) {
      ctx.status = 400;
      ctx.body = { error: 'not_revocable', message: 'the token has no jti or exp' };
      return;
    }
    await store.revokeToken({ jti, expiresAt: exp, iss: target.issuer });
    ctx.body = { revoked: jti };
  });
  app.use(api.routes());
  return app;
}
