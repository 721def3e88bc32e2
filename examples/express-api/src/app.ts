import express, {
  type ErrorRequestHandler,
  type Express,
  type NextFunction,
  type Request,
  type Response,
} from 'express';
import { createMemoryStore, isJwtGuardError, type TokenStore } from '@jwt-guard/core';
import { jwtGuard, requireDpop, requireScope } from '@jwt-guard/express';

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

const BODY_LIMIT_BYTES = 16 * 1024;
const parseJson = express.json({ limit: BODY_LIMIT_BYTES });
const NOT_A_JSON_OBJECT = {
  error: 'invalid_request',
  message: 'the body must be a JSON object sent as application/json',
} as const;
const TOO_LARGE = { error: 'invalid_request', message: 'the body is larger than 16 KiB' } as const;

// Lets the request on only if its body is a JSON object; anything else (no body, another
// content type, `null`, an array, malformed JSON) is answered 400, an oversized body 413, each
// with a fixed JSON error. Mounted after the scope check, so a caller without the scope never
// gets its body parsed.
function jsonObjectBody(req: Request, res: Response, next: NextFunction): void {
  parseJson(req, res, (error?: unknown) => {
    // A parse error would otherwise reach Express's final handler, which logs it and, outside
    // production, sends its stack: the message of a JSON SyntaxError quotes the body, and a
    // revocation body holds a token. So it is answered here, from fixed texts only.
    if (error !== undefined && error !== null) {
      const tooLarge = (error as { status?: unknown }).status === 413;
      res.status(tooLarge ? 413 : 400).json(tooLarge ? TOO_LARGE : NOT_A_JSON_OBJECT);
      return;
    }
    // express.json leaves `req.body` undefined for a request it does not parse (no body, or
    // not application/json), and parses `[]` too.
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      res.status(400).json(NOT_A_JSON_OBJECT);
      return;
    }
    next();
  });
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
 * An orders API compartmentalized by scope: the catalogue is public, reading orders needs
 * `orders:read`, placing one `orders:write`, and revoking a token `admin`; the invoices need
 * `orders:read` and a DPoP-bound token. Bearer and DPoP tokens are both accepted elsewhere.
 *
 * @example
 * ```ts
 * createOrdersApp({
 *   issuer: 'http://127.0.0.1:4000',
 *   audience: 'https://api.example/',
 *   publicOrigin: 'http://127.0.0.1:3000',
 * }).listen(3000, '127.0.0.1');
 * ```
 */
export function createOrdersApp(options: OrdersApiOptions): Express {
  const store = options.store ?? createMemoryStore();
  const guard = jwtGuard({
    issuer: options.issuer,
    audience: options.audience,
    store,
    dpop: { mode: 'allowed', origin: options.publicOrigin },
  });
  const orders: Order[] = [];
  const app = express();
  app.disable('x-powered-by');

  // Public: mounted before the guard, so no token is asked for.
  app.get('/catalog', (_req, res) => {
    res.json(CATALOG);
  });

  app.use(guard);
  app.get('/orders', requireScope('orders:read'), (req, res) => {
    res.json(orders.filter((order) => order.placedBy === req.auth.subject));
  });
  app.post('/orders', requireScope('orders:write'), jsonObjectBody, (req, res) => {
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
  // Invoices are worth stealing a token for: only a DPoP-bound token, sent with a fresh proof
  // by its key, opens them (RFC 9449), so a token copied out of a log or a proxy is not enough.
  app.get('/invoices', requireDpop(), requireScope('orders:read'), (req, res) => {
    res.json(invoicesOf(orders, req.auth.subject));
  });
  // Revokes the token in the body until it would have expired: it must be one of ours.
  app.post('/admin/revocations', requireScope('admin'), jsonObjectBody, async (req, res) => {
    const { token } = req.body as { token?: unknown };
    let target;
    try {
      target = await guard.guard.verify(typeof token === 'string' ? token : '', {
        senderConstraint: 'ignore',
      });
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
    await store.revokeToken({ jti, expiresAt: exp, iss: target.issuer });
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
