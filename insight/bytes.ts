/**
 * Byte totals that keep "unknown" apart from zero: a provider listing without a size says nothing
 * about how much storage a backup holds, so a total counts the backups it could not size instead of
 * adding 0 for them (issue 19: unknown stays unknown, never 0).
 */

/** Backups and the bytes of those whose size is known. */
export interface ByteTotal {
  count: number;
  /** Sum of the known sizes. */
  bytes: number;
  /** How many of `count` had no size in the listing (their bytes are not in `bytes`). */
  unsized: number;
}

export const emptyTotal = (): ByteTotal => ({ count: 0, bytes: 0, unsized: 0 });

export function addSize(into: ByteTotal, sizeBytes: number | undefined): ByteTotal {
  into.count++;
  if (sizeBytes === undefined) into.unsized++;
  else into.bytes += sizeBytes;
  return into;
}

export function totalOfSizes(sizes: Iterable<number | undefined>): ByteTotal {
  const t = emptyTotal();
  for (const s of sizes) addSize(t, s);
  return t;
}

export function sumTotals(totals: Iterable<ByteTotal>): ByteTotal {
  const t = emptyTotal();
  for (const x of totals) {
    t.count += x.count;
    t.bytes += x.bytes;
    t.unsized += x.unsized;
  }
  return t;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** 1536 → "1.5 KiB", 5368709120 → "5.0 GiB", 12 → "12 B" (binary units, as providers size disks). */
export function fmtBytes(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** A total for a table cell: "5.0 GiB", "5.0 GiB + 2 unsized", "unknown" (no size at all), "0 B". */
export function fmtTotalBytes(t: ByteTotal): string {
  if (t.count > 0 && t.unsized === t.count) return 'unknown';
  return t.unsized ? `${fmtBytes(t.bytes)} + ${t.unsized} unsized` : fmtBytes(t.bytes);
}
