import 'reflect-metadata';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Module,
  Post,
  UseInterceptors,
  type DynamicModule,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  createMemoryStore,
  isJwtGuardError,
  type AuthContext,
  type TokenStore,
} from '@jwt-guard/core';
import {
  Auth,
  InjectJwtGuard,
  JwtGuard,
  JwtGuardModule,
  Public,
  RequireDpop,
  RequireScope,
} from '@jwt-guard/nestjs';
import { JsonObjectBody } from './json-body.interceptor.js';

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

/** The store the guard checks revocations in, for the admin route to write to. */
const TOKEN_STORE = Symbol('TokenStore');

@Controller('catalog')
class CatalogController {
  // The guard is global: open routes say so.
  @Public()
  @Get()
  list() {
    return CATALOG;
  }
}

// Routes under two prefixes, so that the invoices read the same orders.
@Controller()
class OrdersController {
  private readonly orders: Order[] = [];

  @Get('orders')
  @RequireScope('orders:read')
  list(@Auth() auth: AuthContext) {
    return this.orders.filter((order) => order.placedBy === auth.subject);
  }

  // The caller's orders with what they cost (`null` for an item not in the catalogue). Invoices
  // are worth stealing a token for: only a DPoP-bound token, sent with a fresh proof by its key,
  // opens them (RFC 9449), so a token copied out of a log or a proxy is not enough.
  @Get('invoices')
  @RequireDpop()
  @RequireScope('orders:read')
  invoices(@Auth() auth: AuthContext) {
    return this.list(auth).map((order) => {
      const price = CATALOG.find((entry) => entry.sku === order.item)?.price;
      const total = price === undefined ? null : Math.round(price * order.quantity * 100) / 100;
      return { order: order.id, item: order.item, quantity: order.quantity, total };
    });
  }

  @Post('orders')
  @RequireScope('orders:write')
  @UseInterceptors(JsonObjectBody)
  place(@Auth() auth: AuthContext, @Body() body: Record<string, unknown>) {
    const { item, quantity } = body;
    if (typeof item !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1) {
      throw new BadRequestException({
        error: 'invalid_order',
        message: 'item (string) and quantity (≥ 1) are required',
      });
    }
    const order = {
      id: this.orders.length + 1,
      item,
      quantity: quantity as number,
      placedBy: auth.subject ?? 'unknown',
    };
    this.orders.push(order);
    return order;
  }
}

@Controller('admin/revocations')
@RequireScope('admin')
class RevocationsController {
  constructor(
    @InjectJwtGuard() private readonly guard: JwtGuard,
    @Inject(TOKEN_STORE) private readonly store: TokenStore,
  ) {}

  // Revokes the token in the body until it would have expired: it must be one of ours.
  @Post()
  @HttpCode(200)
  @UseInterceptors(JsonObjectBody)
  async revoke(@Body() body: Record<string, unknown>) {
    const { token } = body;
    let target: AuthContext;
    try {
      target = await this.guard.verify(typeof token === 'string' ? token : '', {
        senderConstraint: 'ignore',
      });
    } catch (error) {
      // The caller's own token was fine; the one in the body is not revocable.
      if (!isJwtGuardError(error)) throw error;
      throw new BadRequestException({ error: 'invalid_target_token', code: error.code });
    }
    const { jti, exp } = target.claims;
    if (jti === undefined || exp === undefined) {
      throw new BadRequestException({
        error: 'not_revocable',
        message: 'the token has no jti or exp',
      });
    }
    await this.store.revokeToken({ jti, expiresAt: exp, iss: target.issuer });
    return { revoked: jti };
  }
}

/**
 * The orders API as a Nest module: the catalogue is public, reading orders needs
 * `orders:read`, placing one `orders:write`, and revoking a token `admin`; the invoices need
 * `orders:read` and a DPoP-bound token. Bearer and DPoP tokens are both accepted elsewhere.
 *
 * @example
 * ```ts
 * const app = await NestFactory.create(OrdersModule.forRoot({ issuer, audience, publicOrigin }));
 * ```
 */
@Module({ controllers: [CatalogController, OrdersController, RevocationsController] })
export class OrdersModule {
  static forRoot(options: OrdersApiOptions): DynamicModule {
    const store = options.store ?? createMemoryStore();
    return {
      module: OrdersModule,
      imports: [
        JwtGuardModule.forRoot({
          issuer: options.issuer,
          audience: options.audience,
          store,
          dpop: { mode: 'allowed', origin: options.publicOrigin },
        }),
      ],
      providers: [{ provide: TOKEN_STORE, useValue: store }],
    };
  }
}

/**
 * The orders API of the Express example, on NestJS (platform-express), not listening yet.
 *
 * @example
 * ```ts
 * const app = await createOrdersApp({
 *   issuer: 'http://127.0.0.1:9000',
 *   audience: 'https://api.example/',
 *   publicOrigin: 'http://127.0.0.1:3002',
 * });
 * await app.listen(3002, '127.0.0.1');
 * ```
 */
export async function createOrdersApp(options: OrdersApiOptions): Promise<NestExpressApplication> {
  // No app-wide body parser: it would read every body before the guard runs, and answer a
  // malformed one with the parser's message, which quotes the body. The two routes that take a
  // body read it with JsonObjectBody, after their scope was checked.
  const app = await NestFactory.create<NestExpressApplication>(OrdersModule.forRoot(options), {
    logger: ['error', 'warn'],
    bodyParser: false,
  });
  app.disable('x-powered-by');
  return app;
}
