import express, { type ErrorRequestHandler, type Express } from 'express';
import { createMemoryStore, isJwtGuardError, type TokenStore } from '@jwt-guard/core';
import { jwtGuard, requireScope } from '@jwt-guard/express';

/** What the orders API needs to know about its authorization server. */
export interface OrdersApiOptions {
  /** The exact `iss` of the tokens; keys are found by discovery from it. */
  readonly issuer: string;
  /** This API's identifier, the `aud` its tokens must carry. */
  readonly audience: string;
  /** Revocations; in memory unless a shared store (Redis) is given. */
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

/**
 * An orders API compartmentalized by scope: the catalogue is public, reading orders needs
 * `orders:read`, placing one `orders:write`, and revoking a token `admin`.
 *
 * @example
 * ```ts
 * createOrdersApp({ issuer: 'http://127.0.0.1:4000', audience: 'https://api.example/' }).listen(3000);
 * ```
 */
export function createOrdersApp(options: OrdersApiOptions): Express {
  const store = options.store ?? createMemoryStore();
  const guard = jwtGuard({ issuer: options.issuer, audience: options.audience, store });
  const orders: Order[] = [];
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));

  // Public: mounted before the guard, so no token is asked for.
  app.get('/catalog', (_req, res) => {
    res.json(CATALOG);
  });

  app.use(guard);
  app.get('/orders', requireScope('orders:read'), (req, res) => {
    res.json(orders.filter((order) => order.placedBy === req.auth.subject));
  });
  app.post('/orders', requireScope('orders:write'), (req, res) => {
    const { item, quantity } = req.body as { item?: unknown; quantity?: unknown };
    if (typeof item !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1) {
      res
        .status(400)
        .json({ error: 'invalid_order', message: 'item (string) and quantity (≥ 1) are required' });
      return;
    }
    const order = {
      id: orders.length + 1,
      item,
      quantity: quantity as number,
      placedBy: req.auth.subject ?? 'unknown',
    };
    orders.push(order);
    res.status(201).json(order);
  });
  // Revokes the token in the body until it would have expired: it must be one of ours.
  app.post('/admin/revocations', requireScope('admin'), async (req, res) => {
    const { token } = req.body as { token?: unknown };
    let target;
    try {
      target = await guard.guard.verify(typeof token === 'string' ? token : '');
    } catch (error) {
      // The caller's own token was fine; the one in the body is not revocable.
      if (!isJwtGuardError(error)) throw error;
      res.status(400).json({ error: 'invalid_target_token', code: error.code });
      return;
    }
    const { jti, exp } = target.claims;
    if (jti === undefined || exp === undefined) {
      res.status(400).json({ error: 'not_revocable', message: 'the token has no jti or exp' });
      return;
    }
    await store.revokeToken({ jti, expiresAt: exp });
    res.json({ revoked: jti });
  });

  const renderErrors: ErrorRequestHandler = (error: unknown, _req, res, next) => {
    if (!isJwtGuardError(error)) {
      next(error);
      return;
    }
    // The guard's error already carries the status and the RFC 6750 challenge.
    res.status(error.status).set(error.headers).json(error);
  };
  app.use(renderErrors);
  return app;
}
