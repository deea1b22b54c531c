/**
 * The provider simulator: one HTTP server on loopback. Each provider lives under its own prefix
 * (`/vbs`, `/csbs`, `/taurusdb`, `/jsa`, `/veeam`; Huawei IAM under `/iam`), so an account's endpoint
 * is e.g. `http://127.0.0.1:PORT/vbs`. `/_admin` seeds backups, sets faults, timings and scope modes,
 * and reads counters. Used in-process by tests and standalone by `retention-cleanup simulate` and the
 * demo. Any other prefix is a path that does not exist (a typo'd endpoint such as `/vbs-typo`): it
 * answers a bare 404, with an HTML body when the prefix contains "html" (a proxy's error page), with
 * an empty body otherwise.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SimContext, type Timings } from './context';
import { deleteKeysOf } from './delete-requests';
import { Faults, type FaultRule } from './faults';
import { json, readRequest, writeResponse, type SimRequest, type SimResponse } from './http-kit';
import type { ProviderSim } from './provider-sim';
import { VbsSim } from './vbs';
import { CsbsSim } from './csbs';
import { TaurusDbSim } from './taurusdb';
import { JsaSim } from './jsa';
import { VeeamSim } from './veeam';

export type ProviderSimFactory = (ctx: SimContext) => ProviderSim;

/** Provider simulators by prefix. Others register here as they are added. */
export const PROVIDER_SIMS: Record<string, ProviderSimFactory> = {
  vbs: (ctx) => new VbsSim(ctx),
  csbs: (ctx) => new CsbsSim(ctx),
  taurusdb: (ctx) => new TaurusDbSim(ctx),
  jsa: (ctx) => new JsaSim(ctx),
  veeam: (ctx) => new VeeamSim(ctx),
};

export interface SimulatorOptions {
  port?: number;
  host?: string;
  seed?: number;
  timings?: Partial<Timings>;
  /** Serve HTTPS with this PEM key and certificate (TLS tests); plain HTTP otherwise. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export class Simulator {
  readonly ctx = new SimContext();
  readonly faults: Faults;
  readonly providers = new Map<string, ProviderSim>();
  private server?: Server;
  url = '';

  constructor(private readonly opts: SimulatorOptions = {}) {
    this.faults = new Faults(opts.seed ?? 42);
    if (opts.timings) this.setTimings(opts.timings);
    for (const [name, make] of Object.entries(PROVIDER_SIMS)) this.providers.set(name, make(this.ctx));
  }

  setTimings(t: Partial<Timings>): void {
    this.ctx.timings = {
      ...this.ctx.timings,
      ...t,
      deleteMs: { ...this.ctx.timings.deleteMs, ...(t.deleteMs ?? {}) },
    };
  }

  provider(name: string): ProviderSim {
    const p = this.providers.get(name);
    if (!p)
      throw new Error(`no simulator for provider "${name}" (have: ${[...this.providers.keys()].join(', ')})`);
    return p;
  }

  seed(provider: string, scope: string, backups: unknown[]): number {
    return this.provider(provider).seed(scope, backups);
  }

  setFaults(rules: FaultRule[], seed?: number): void {
    this.faults.set(rules, seed);
  }

  async start(): Promise<string> {
    const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      void this.dispatch(req, res);
    };
    // https.Server has the http.Server API this class uses (listen, close, closeAllConnections).
    const server: Server = this.opts.tls
      ? (createHttpsServer(this.opts.tls, handler) as unknown as Server)
      : createServer(handler);
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.url = `${this.opts.tls ? 'https' : 'http'}://${this.opts.host ?? '127.0.0.1'}:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async dispatch(
    req: import('node:http').IncomingMessage,
    res: import('node:http').ServerResponse,
  ): Promise<void> {
    try {
      const path = new URL(req.url ?? '/', 'http://sim').pathname;
      const prefix = path.split('/')[1] ?? '';
      const simReq = await readRequest(req, prefix.length + 1);
      if (prefix === '_admin') return writeResponse(res, this.admin(simReq));
      const provider = prefix === 'iam' ? 'iam' : this.providers.has(prefix) ? prefix : undefined;
      if (!provider) return writeResponse(res, bare404(prefix));
      this.ctx.counters.bump(this.ctx.counters.requests, `${provider} ${simReq.method}`);
      const deleteKeys = deleteKeysOf(provider, simReq);
      const decision = this.faults.decide(provider, simReq);
      if (decision.delayMs) await new Promise((r) => setTimeout(r, decision.delayMs));
      if (decision.kind === 'respond' || decision.kind === 'reset') {
        // Count deletes that never reached the provider logic too: the caller did send them. (A
        // `rewrite` reaches it, and the provider counts it as it answers.)
        for (const k of deleteKeys) this.ctx.counters.deleteRequest(k, 'fault');
      }
      if (decision.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (decision.kind === 'respond') return writeResponse(res, decision.response);
      const out: SimResponse =
        provider === 'iam'
          ? simReq.method === 'POST' && simReq.path === '/v3/auth/tokens'
            ? this.ctx.issueHuaweiToken(simReq)
            : json(404, { error: { code: 404, message: 'not found' } })
          : await this.provider(provider).handle(simReq);
      // Authentication refuses before the provider's delete logic runs: count those deletes here.
      if (out.status === 401 || out.status === 403)
        for (const k of deleteKeys) this.ctx.counters.deleteRequest(k, 'refused');
      writeResponse(res, decision.kind === 'rewrite' ? decision.rewrite(out) : out);
    } catch (err) {
      writeResponse(res, json(500, { message: `simulator bug: ${(err as Error).stack ?? String(err)}` }));
    }
  }

  /** The admin API, for the demo, the standalone simulator and out-of-process tests. */
  private admin(req: SimRequest): SimResponse {
    const body = (req.body ? req.json() : {}) as Record<string, unknown>;
    const route = `${req.method} ${req.path}`;
    switch (route) {
      case 'GET /counters':
        return json(200, this.ctx.counters.snapshot());
      case 'GET /delete-requests':
        // Per backup: every delete request by answer, and `repeats` (requests after acceptance).
        return json(200, {
          deleteRequests: this.ctx.counters.deleteRequests.snapshot(),
          repeats: this.ctx.counters.deleteRequests.repeats(),
        });
      case 'POST /seed': {
        const { provider, scope, backups } = body as { provider: string; scope: string; backups: unknown[] };
        return json(200, { seeded: this.seed(provider, scope, backups) });
      }
      case 'GET /backups': {
        const provider = req.query.get('provider') ?? '';
        return json(200, this.provider(provider).list(req.query.get('scope') ?? ''));
      }
      case 'PUT /faults':
        this.setFaults((body.rules ?? []) as FaultRule[], body.seed as number | undefined);
        return json(200, { rules: this.faults.list().length });
      case 'PUT /modes': {
        const { provider, scope, modes } = body as {
          provider: string;
          scope: string;
          modes: Record<string, unknown>;
        };
        const sim = this.provider(provider);
        if (!sim.configure) return json(400, { message: `provider "${provider}" has no scope modes` });
        sim.configure(scope, modes ?? {});
        return json(200, {});
      }
      case 'PUT /timings':
        this.setTimings(body as Partial<Timings>);
        return json(200, this.ctx.timings);
      case 'POST /revoke-tokens':
        this.ctx.revokeHuaweiTokens();
        return json(200, {});
      case 'POST /reset':
        this.ctx.counters.reset();
        this.faults.set([]);
        for (const p of this.providers.values()) p.reset();
        return json(200, {});
      default:
        return json(404, { message: `unknown admin route ${route}` });
    }
  }
}

/** What a web server answers for a path it does not serve: no provider's error body, no marker. */
function bare404(prefix: string): SimResponse {
  return /html/i.test(prefix)
    ? {
        status: 404,
        headers: { 'content-type': 'text/html' },
        raw: '<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>',
      }
    : { status: 404, raw: '' };
}
