import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A child Node process spoken to in JSON lines: commands on stdin, messages on stdout.
 *
 * @example
 * ```ts
 * const api: JsonLineProcess = startJsonLineProcess(fixture, { REDIS_URL });
 * const { pid } = await api.next<{ pid: number }>('ready', 30_000);
 * ```
 */
export interface JsonLineProcess {
  /** Writes one command line. */
  send(command: Record<string, unknown>): void;
  /**
   * Resolves with the next message of a `type` (messages wait in a queue until read);
   * rejects, with the child's stderr, if it exits first or nothing comes in `timeoutMs`
   * (default 10 s, a bound on a hung test, not a speed assertion).
   */
  next<T extends Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  /** Closes stdin, waits for the child to exit (killing it after 5 s). */
  stop(): Promise<void>;
}

/**
 * Runs `node <script>` with extra environment variables, for tests that need a second
 * process (two API instances sharing one Redis).
 *
 * @example
 * ```ts
 * const child = startJsonLineProcess(fixture, { REDIS_URL });
 * await child.next('ready');
 * child.send({ type: 'verify', token });
 * expect(await child.next('verified')).toMatchObject({ ok: true });
 * await child.stop();
 * ```
 */
export function startJsonLineProcess(script: string, env: Record<string, string>): JsonLineProcess {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const queued: Record<string, unknown>[] = [];
  const waiting = new Set<() => void>();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      process.removeListener('exit', killOnExit);
      for (const wake of waiting) wake();
      resolve();
    });
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      queued.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      queued.push({ type: 'unparsed', line });
    }
    for (const wake of waiting) wake();
  });

  return {
    send(command) {
      child.stdin.write(`${JSON.stringify(command)}\n`);
    },
    next<T extends Record<string, unknown>>(type: string, timeoutMs = 10_000) {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`no "${type}" message in time`)),
          timeoutMs,
        );
        function finish(error?: Error): void {
          clearTimeout(timer);
          waiting.delete(check);
          if (error) reject(new Error(`${error.message}\n${stderr}`));
        }
        function check(): void {
          const index = queued.findIndex((message) => message.type === type);
          if (index >= 0) {
            finish();
            resolve(queued.splice(index, 1)[0] as T);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            finish(new Error(`the process exited before a "${type}" message`));
          }
        }
        waiting.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
