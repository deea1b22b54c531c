/**
 * Fault injection shared by all provider simulators. Rules are checked in order before the provider
 * handles a request; the first whose filters match and whose dice roll hits answers instead.
 */
import { z } from 'zod';
import type { SimRequest, SimResponse } from './http-kit';

export const faultRuleSchema = z
  .object({
    provider: z.string().optional(),
    method: z.string().optional(),
    /** Regular expression tested against the path below the provider prefix. */
    path: z.string().optional(),
    /** Probability 0..1 that a matching request is hit. */
    rate: z.number().min(0).max(1).default(1),
    /** At most this many hits, then the rule stops. */
    times: z.number().int().positive().optional(),
    fault: z.discriminatedUnion('kind', [
      z.object({
        kind: z.literal('status'),
        status: z.number().int(),
        body: z.unknown().optional(),
        retryAfter: z.string().optional(),
      }),
      z.object({ kind: z.literal('reset') }),
      z.object({
        kind: z.literal('malformed'),
        raw: z.string().default('{"truncated": '),
        contentType: z.string().default('application/json'),
      }),
      /**
       * The provider handles the request as usual (a delete is really accepted), then its JSON answer
       * is altered: `set` fields are replaced or added, `unset` fields removed. Plays a provider whose
       * answer does not match its documented shape although it acted on the request.
       */
      z.object({
        kind: z.literal('rewrite'),
        set: z.record(z.string(), z.unknown()).default({}),
        unset: z.array(z.string()).default([]),
      }),
      z.object({
        kind: z.literal('latency'),
        ms: z.number().int().min(0),
        jitterMs: z.number().int().min(0).default(0),
      }),
    ]),
  })
  .strict();
export type FaultRule = z.input<typeof faultRuleSchema>;
type ParsedRule = z.output<typeof faultRuleSchema> & { hits: number };

export type FaultDecision =
  | { kind: 'none'; delayMs: number }
  | { kind: 'respond'; response: SimResponse; delayMs: number }
  | { kind: 'reset'; delayMs: number }
  | { kind: 'rewrite'; delayMs: number; rewrite: (res: SimResponse) => SimResponse };

/** Deterministic dice (mulberry32) so a failing test can be replayed with the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Faults {
  private rules: ParsedRule[] = [];
  private random: () => number;

  constructor(seed = 42) {
    this.random = seededRandom(seed);
  }

  set(rules: FaultRule[], seed?: number): void {
    this.rules = rules.map((r) => ({ ...faultRuleSchema.parse(r), hits: 0 }));
    if (seed !== undefined) this.random = seededRandom(seed);
  }

  list(): FaultRule[] {
    return this.rules;
  }

  decide(provider: string, req: SimRequest): FaultDecision {
    let delayMs = 0;
    for (const r of this.rules) {
      if (r.provider && r.provider !== provider) continue;
      if (r.method && r.method.toUpperCase() !== req.method) continue;
      if (r.path && !new RegExp(r.path).test(req.path)) continue;
      if (r.times !== undefined && r.hits >= r.times) continue;
      if (this.random() >= r.rate) continue;
      r.hits++;
      const f = r.fault;
      if (f.kind === 'latency') {
        delayMs += f.ms + Math.round(this.random() * f.jitterMs);
        continue;
      }
      if (f.kind === 'reset') return { kind: 'reset', delayMs };
      if (f.kind === 'rewrite') return { kind: 'rewrite', delayMs, rewrite: (res) => rewriteBody(res, f) };
      if (f.kind === 'malformed')
        return {
          kind: 'respond',
          delayMs,
          response: { status: 200, raw: f.raw, headers: { 'content-type': f.contentType } },
        };
      const headers: Record<string, string> = f.retryAfter ? { 'retry-after': f.retryAfter } : {};
      return {
        kind: 'respond',
        delayMs,
        response: { status: f.status, body: f.body ?? defaultBody(provider, f.status), headers },
      };
    }
    return { kind: 'none', delayMs };
  }
}

/** The provider's own answer with `set` fields replaced and `unset` fields removed (JSON objects only). */
function rewriteBody(res: SimResponse, f: { set: Record<string, unknown>; unset: string[] }): SimResponse {
  if (typeof res.body !== 'object' || res.body === null || Array.isArray(res.body)) return res;
  const body: Record<string, unknown> = { ...(res.body as Record<string, unknown>), ...f.set };
  for (const k of f.unset) delete body[k];
  return { ...res, body };
}

/** A plausible error body in the provider's own dialect. */
function defaultBody(provider: string, status: number): unknown {
  switch (provider) {
    case 'jsa':
      return {
        http_response: { code: status, message: 'Server error' },
        code: 1000,
        message: 'Injected fault',
        description: '',
        details: {},
      };
    case 'veeam':
      return { type: 'about:blank', title: 'Injected fault', status, detail: 'simulated' };
    case 'vbs':
      return status === 429
        ? {
            error_code: 'APIG.0308',
            error_msg:
              'The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 minute',
          }
        : {
            computeFault: {
              message: 'The server has either erred or is incapable of performing the requested operation.',
              code: status,
            },
          };
    case 'taurusdb':
      return status === 429
        ? {
            error_code: 'APIG.0308',
            error_msg:
              'The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 minute',
          }
        : { error_code: 'DBS.108000', error_msg: 'Injected fault' };
    default:
      return status === 429
        ? {
            error_code: 'APIG.0308',
            error_msg:
              'The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 minute',
          }
        : { error_code: 'CSBS.9999', error_msg: 'Injected fault' };
  }
}
