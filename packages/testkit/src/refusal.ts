/**
 * The public shape of a guard refusal, as tests read it. Structural on purpose: the testkit
 * does not depend on core, and a refusal must be recognizable across duplicate installs.
 *
 * @example
 * ```ts
 * const refusal: Refusal = await refusalOf(guard.verify(token));
 * expect(refusal.status).toBe(401);
 * expect(refusal.headers['WWW-Authenticate']).toMatch(/^Bearer error="invalid_token"/);
 * ```
 */
export interface Refusal extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly requirement?: string | undefined;
  toJSON(): unknown;
}

function asRefusal(error: unknown): Refusal {
  const candidate = error as Partial<Refusal> | null;
  if (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.code === 'string' &&
    typeof candidate.status === 'number' &&
    typeof candidate.headers === 'object'
  ) {
    return candidate as Refusal;
  }
  // Anything else (a TypeError, a ConfigurationError) is a different outcome: let it fail the test.
  throw error;
}

/**
 * Awaits a call that must be refused and returns the refusal; fails when the call succeeds
 * or throws something that is not a guard refusal.
 *
 * @example
 * ```ts
 * const error = await refusalOf(guard.verify(token));
 * expect(error.code).toBe('ERR_TOKEN_EXPIRED');
 * ```
 */
export async function refusalOf(promise: Promise<unknown>): Promise<Refusal> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (error) {
    return asRefusal(error);
  }
  throw new Error(`expected a refusal, got ${typeof outcome}`);
}

/**
 * {@link refusalOf} for synchronous calls (`guard.authorize`).
 *
 * @example
 * ```ts
 * const error = refusalOfSync(() => guard.authorize(auth, requirement));
 * ```
 */
export function refusalOfSync(call: () => unknown): Refusal {
  try {
    call();
  } catch (error) {
    return asRefusal(error);
  }
  throw new Error('expected a refusal, the call returned');
}

/**
 * A framework-neutral GET request carrying the token in one Authorization header, as raw
 * header pairs (the form that keeps repeated headers visible).
 *
 * @example
 * ```ts
 * await guard.authenticate(bearerRequest(token));
 * ```
 */
export function bearerRequest(
  token: string,
  extra: { method?: string; url?: string; headers?: readonly string[] } = {},
): { method: string; url: string; headers: string[] } {
  return {
    method: extra.method ?? 'GET',
    url: extra.url ?? '/',
    headers: ['Authorization', `Bearer ${token}`, ...(extra.headers ?? [])],
  };
}
