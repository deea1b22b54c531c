/**
 * Starts the real Temporal dev server (`temporal server start-dev`) with the project's search
 * attributes registered, waits until it answers, and stops it cleanly. Used by the demo, the test
 * runner and the benchmarks. Never a fake Temporal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_DEFINITIONS } from '../workflows/search-attributes';
import { ensureTemporalCli } from './temporal-cli';

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  /** SQLite file: runs survive a server restart. Omit for in-memory. */
  dbFile?: string;
  headless?: boolean;
  ip?: string;
  /** Extra `--dynamic-config-value` pairs. */
  dynamicConfig?: Record<string, unknown>;
  log?: (msg: string) => void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${port} (${what}) is already in use: stop what runs there (\`ss -ltnp 'sport = :${port}'\` shows it) or choose another port`
            : `cannot listen on port ${port} (${what}): ${err.message}`,
        ),
      ),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}

export class DevServer {
  private proc?: ChildProcess;
  address = '';
  uiUrl?: string;
  private stderrTail = '';

  constructor(private readonly opts: DevServerOptions = {}) {}

  async start(): Promise<void> {
    const cli = ensureTemporalCli(this.opts.log);
    const ip = this.opts.ip ?? '127.0.0.1';
    const port = this.opts.port ?? (await freePort());
    await assertPortFree(port, 'Temporal gRPC');
    const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-level', 'error'];
    if (this.opts.headless) args.push('--headless');
    else {
      const uiPort = this.opts.uiPort ?? port + 1000;
      await assertPortFree(uiPort, 'Temporal Web UI');
      args.push('--ui-port', String(uiPort));
      this.uiUrl = `http://${ip === '127.0.0.1' ? 'localhost' : ip}:${uiPort}`;
    }
    if (this.opts.dbFile) {
      mkdirSync(dirname(this.opts.dbFile), { recursive: true });
      args.push('--db-filename', this.opts.dbFile);
    }
    for (const [k, v] of Object.entries(SEARCH_ATTRIBUTE_DEFINITIONS))
      args.push('--search-attribute', `${k}=${v}`);
    for (const [k, v] of Object.entries(this.opts.dynamicConfig ?? {}))
      args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
    this.address = `${ip}:${port}`;
    this.proc = spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
    });
    await this.waitReady();
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.proc?.exitCode !== null && this.proc?.exitCode !== undefined) {
        throw new Error(`Temporal dev server exited with code ${this.proc.exitCode}:\n${this.stderrTail}`);
      }
      try {
        const conn = await Connection.connect({ address: this.address, connectTimeout: 1000 });
        try {
          await conn.workflowService.getSystemInfo({});
          // The default namespace exists once the server answers describe for it.
          await conn.workflowService.describeNamespace({ namespace: 'default' });
          return;
        } finally {
          await conn.close();
        }
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(
            `Temporal dev server did not become ready at ${this.address}: ${String(err)}\n${this.stderrTail}`,
          );
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** For chaos tests: kill hard, as a crash would. */
  kill(): void {
    this.proc?.kill('SIGKILL');
  }
}
