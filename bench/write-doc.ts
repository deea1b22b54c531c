/**
 * Writes a markdown page the benchmarks update (docs/chaos.md, docs/benchmarks.md) as Prettier would:
 * `npm run lint` and the test command check the docs' format, so a page written by a run is committed
 * as is.
 */
import { writeFileSync } from 'node:fs';
import * as prettier from 'prettier';

export async function writeFormattedDoc(path: string, text: string): Promise<void> {
  const options = (await prettier.resolveConfig(path)) ?? {};
  writeFileSync(path, await prettier.format(text, { ...options, filepath: path }));
}
