import { UsageError } from './errors';

/** The value of an option the command cannot do without; absent or empty: exit 2 naming it, with the usage. */
export function requiredOption(value: string | undefined, flag: string, help: () => string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is required`, help());
  return value;
}
