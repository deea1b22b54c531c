/** Tiny request/response helpers for the simulators (node:http, no framework: fewer moving parts). */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SimRequest {
  method: string;
  /** Path below the provider's prefix, e.g. "/v3/p1/backups/b1". */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  json(): unknown;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw text instead of JSON (for malformed-body faults). */
  raw?: string;
}

export function json(status: number, body?: unknown, headers: Record<string, string> = {}): SimResponse {
  return { status, body, headers };
}

export async function readRequest(req: IncomingMessage, prefixLength: number): Promise<SimRequest> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  const url = new URL(req.url ?? '/', 'http://sim');
  return {
    method: req.method ?? 'GET',
    path: url.pathname.slice(prefixLength) || '/',
    query: url.searchParams,
    headers: req.headers,
    body,
    json: () => (body ? JSON.parse(body) : undefined),
  };
}

export function writeResponse(res: ServerResponse, r: SimResponse): void {
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  let payload = '';
  if (r.raw !== undefined) {
    payload = r.raw;
  } else if (r.body !== undefined) {
    payload = JSON.stringify(r.body);
    headers['content-type'] ??= 'application/json';
  }
  res.writeHead(r.status, headers);
  res.end(payload);
}

/** Matches "/v3/:project/backups/:id" against a path; returns the params or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const a = path.split('/');
  if (p.length !== a.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    if (seg.startsWith(':')) params[seg.slice(1)] = decodeURIComponent(a[i]!);
    else if (seg !== a[i]) return undefined;
  }
  return params;
}
