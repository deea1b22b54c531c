/**
 * One planted bug for `npm run mutants` (scripts/mutants.ts): an exact text in a source file, what it
 * becomes, and the test files that must fail when it is there. Not a test file itself (no `.test.ts`).
 */
export interface PlantedBug {
  /** Short, stable, kebab-case: `npm run mutants -- --only ID`. */
  id: string;
  /** Repository-relative path of the file the bug is planted in. */
  file: string;
  /** Text that must occur exactly once in `file` (checked by `--check`). */
  find: string;
  /** What `find` becomes. */
  replace: string;
  /** Test files (repository-relative) that must catch it. */
  tests: string[];
  /**
   * Optional `--test-name-pattern` (a regular expression on test and describe names): only the tests
   * that concern the bug run, so one planted bug costs a minute rather than a whole file's run.
   */
  names?: string;
  /** The README "Guarantees" promise it breaks, and how a user would notice. */
  why: string;
}
