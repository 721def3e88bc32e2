import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// Redis for the test suites. A developer without Redis gets a notice and skipped suites; CI
// sets REQUIRE_REDIS, and then a missing Redis fails the run instead of skipping silently.

const DEFAULT_URL = 'redis://127.0.0.1:6379';

function redisRequired(): boolean {
  const flag = process.env.REQUIRE_REDIS;
  return flag !== undefined && flag !== '' && flag !== '0' && flag !== 'false';
}

function unavailable(message: string): undefined {
  if (redisRequired()) throw new Error(`${message} (REQUIRE_REDIS is set)`);
  console.warn(`${message}. The Redis suites are skipped.`);
  return undefined;
}

// Runs in a child process, so the answer is known synchronously at module load, where
// `describe` or `describe.skip` is chosen. Any reply to PING (even -NOAUTH) means a Redis.
const PING_SCRIPT = `
const socket = require('node:net').createConnection(Number(process.argv[2]), process.argv[1]);
socket.setTimeout(2000, () => process.exit(1));
socket.on('connect', () => socket.write('PING\\r\\n'));
socket.on('data', (d) => process.exit(/^[+-]/.test(d.toString()) ? 0 : 1));
socket.on('error', () => process.exit(1));
`;

/**
 * The URL of the Redis the suites share: `REDIS_URL`, default `redis://127.0.0.1:6379`.
 * `undefined`, with a printed notice, when nothing answers there; under `REQUIRE_REDIS`
 * that is an error.
 *
 * @example
 * ```ts
 * const REDIS_URL = findRedis();
 * const describeRedis = REDIS_URL === undefined ? describe.skip : describe;
 * ```
 */
export function findRedis(): string | undefined {
  const url = process.env.REDIS_URL || DEFAULT_URL;
  const { hostname, port } = new URL(url);
  const ping = spawnSync(
    process.execPath,
    ['-e', PING_SCRIPT, hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port || '6379'],
    { timeout: 5000, stdio: 'ignore' },
  );
  return ping.status === 0 ? url : unavailable(`Redis does not answer at ${url}`);
}

/**
 * Whether `redis-server` and `redis-cli` are installed, for suites that start their own
 * servers. `false`, with a notice, when they are not; under `REQUIRE_REDIS` an error.
 *
 * @example
 * ```ts
 * const describeServer = hasRedisServer() ? describe : describe.skip;
 * ```
 */
export function hasRedisServer(): boolean {
  const found = ['redis-server', 'redis-cli'].every(
    (command) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0,
  );
  return found || (unavailable('redis-server or redis-cli is not installed') ?? false);
}

/**
 * A key prefix no other run shares, so parallel runs against one Redis never meet.
 *
 * @example
 * ```ts
 * const store = createRedisStore({ client, keyPrefix: uniqueKeyPrefix('store') });
 * ```
 */
export function uniqueKeyPrefix(label: string): string {
  return `jwt-guard-test:${label}:${process.pid}-${randomBytes(4).toString('hex')}:`;
}

/**
 * Ports free on 127.0.0.1 now, all distinct (held together while they are chosen).
 *
 * @example
 * ```ts
 * const [port] = await freePorts(1);
 * ```
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(
    servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
  return ports;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.on('error', () => done(false));
  });
}

/**
 * Polls `check` every 20 ms until it is true; rejects after `timeoutMs` (default 10 s). For
 * state reached in the background (a message delivered, a reconnection): the deadline only
 * bounds a hung test, it asserts no speed.
 *
 * @example
 * ```ts
 * await waitUntil('the revocation to arrive', () => other.isRevoked(claims));
 * ```
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface ServerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly output: () => string;
}

// Every server this module starts dies with the test process, also when a suite fails
// before its afterAll.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function spawnServer(args: readonly string[]): ServerProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of running) child.kill('SIGKILL');
    });
  }
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
    child.once('error', () => {
      running.delete(child);
      resolve();
    });
  });
  return { child, exited, output: () => output };
}

async function killServer(server: ServerProcess | undefined): Promise<void> {
  if (server === undefined || server.child.exitCode !== null) return;
  server.child.kill('SIGKILL');
  await server.exited;
}

const EPHEMERAL = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/**
 * A `redis-server` of a test's own, to stop and start at will.
 *
 * @example
 * ```ts
 * const client = new Redis(redis.url, { enableOfflineQueue: false });
 * afterAll(() => redis.stop());
 * ```
 */
export interface RedisServerProcess {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Kills the server (SIGKILL: a crash, connections drop at once). Its data is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it answers. */
  start(): Promise<void>;
}

/**
 * Starts a `redis-server` without persistence on a free port of 127.0.0.1. Stop it in
 * `afterAll`; it is also killed when the test process exits.
 *
 * @example
 * ```ts
 * const redis = await startRedisServer();
 * await redis.stop(); // outage
 * await redis.start(); // back, same port
 * ```
 */
export async function startRedisServer(): Promise<RedisServerProcess> {
  const [port] = (await freePorts(1)) as [number];
  let current: ServerProcess | undefined;
  const start = async (): Promise<void> => {
    await killServer(current);
    const server = spawnServer(['--port', String(port), ...EPHEMERAL]);
    current = server;
    try {
      await waitUntil(`redis-server on port ${port}`, () => answersPing(port));
    } catch (error) {
      await killServer(server);
      throw new Error(`${(error as Error).message}\n${server.output()}`, { cause: error });
    }
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop: () => killServer(current),
  };
}

/**
 * A local Redis Cluster of a test's own.
 *
 * @example
 * ```ts
 * const store = createRedisStore({ client: new Cluster([...cluster.nodes]) });
 * afterAll(() => cluster.stop());
 * ```
 */
export interface RedisClusterProcess {
  /** The masters, as ioredis `Cluster` startup nodes. */
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  /** Kills every node and removes their files. */
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);

async function clusterState(port: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync('redis-cli', ['-p', String(port), 'cluster', 'info']);
    return /cluster_state:(\w+)/.exec(stdout)?.[1] ?? 'unknown';
  } catch {
    return 'unreachable';
  }
}

/**
 * Starts a three-master Redis Cluster (no replicas) on free ports of 127.0.0.1 and waits
 * until every node reports `cluster_state:ok`.
 *
 * @example
 * ```ts
 * const cluster = await startRedisCluster();
 * const client = new Cluster([...cluster.nodes]);
 * ```
 */
export async function startRedisCluster(): Promise<RedisClusterProcess> {
  // Each node needs a client port and a cluster bus port, both free.
  const ports = await freePorts(6);
  const dir = mkdtempSync(join(tmpdir(), 'jwt-guard-cluster-'));
  const nodes = [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: ports[i] as number }));
  const servers = nodes.map(({ port }, i) =>
    spawnServer([
      '--port',
      String(port),
      '--cluster-enabled',
      'yes',
      '--cluster-port',
      String(ports[i + 3]),
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      '2000',
      '--dir',
      dir,
      ...EPHEMERAL,
    ]),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map(killServer));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const { port } of nodes) await waitUntil(`cluster node ${port}`, () => answersPing(port));
    await execFileAsync('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map(({ host, port }) => `${host}:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const { port } of nodes) {
      await waitUntil(
        `cluster_state:ok on ${port}`,
        async () => (await clusterState(port)) === 'ok',
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, stop };
}

/**
 * A Redis master and a Sentinel watching it, of a test's own.
 *
 * @example
 * ```ts
 * await sentinel.master.stop(); // no replica: an outage the Sentinel cannot fail over
 * afterAll(() => sentinel.stop());
 * ```
 */
export interface RedisSentinelProcess {
  /** The master set's name, as ioredis's `name` option. */
  readonly name: string;
  /** The Sentinel, as ioredis's `sentinels` option. */
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  /** The master the Sentinel reports. */
  readonly master: RedisServerProcess;
  /** Kills the Sentinel and the master and removes the Sentinel's files. */
  stop(): Promise<void>;
}

async function sentinelMaster(port: number, name: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync('redis-cli', [
      '-p',
      String(port),
      'sentinel',
      'get-master-addr-by-name',
      name,
    ]);
    return stdout.trim().split('\n').join(':');
  } catch {
    return 'unreachable';
  }
}

/**
 * Starts a `redis-server` master and a Sentinel (`redis-server <conf> --sentinel`)
 * monitoring it, on free ports of 127.0.0.1, and waits until the Sentinel names the master.
 * The Sentinel rewrites its configuration file, so that file lives in a temporary directory.
 *
 * @example
 * ```ts
 * const sentinel = await startRedisSentinel();
 * const client = new Redis({ sentinels: [...sentinel.sentinels], name: sentinel.name });
 * ```
 */
export async function startRedisSentinel(): Promise<RedisSentinelProcess> {
  const name = 'jwt-guard-test';
  const master = await startRedisServer();
  const [port] = (await freePorts(1)) as [number];
  const dir = mkdtempSync(join(tmpdir(), 'jwt-guard-sentinel-'));
  const config = join(dir, 'sentinel.conf');
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      // Quorum 1: this one Sentinel decides alone; no failover is tested.
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 5000`,
      '',
    ].join('\n'),
  );
  const sentinel = spawnServer([config, '--sentinel']);
  const stop = async (): Promise<void> => {
    await killServer(sentinel);
    await master.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      `the Sentinel on port ${port} to name the master`,
      async () => (await sentinelMaster(port, name)) === `127.0.0.1:${master.port}`,
    );
  } catch (error) {
    const output = sentinel.output();
    await stop();
    throw new Error(`${(error as Error).message}\n${output}`, { cause: error });
  }
  return { name, sentinels: [{ host: '127.0.0.1', port }], master, stop };
}
