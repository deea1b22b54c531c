/**
 * JSON with object keys sorted at every level (undefined members dropped, as JSON.stringify does), so
 * the same request always hashes the same: the client's request hash (client/request-hash.ts) and the
 * run's plan hash (workflows/run/approval-gate.ts) both hash this form. Pure: safe in workflow code.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}
