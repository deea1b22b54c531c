/**
 * Measures the shape of the non-test code with the TypeScript compiler: the longest functions, the
 * longest client/ files, and imports from activities/ into workflows/ that are not type-only.
 * `npm run code-shape` prints the table; test/code-shape.test.ts holds the limits (README issue
 * "Architecture": no function over 150 lines, no client/ file over 400 lines, activities import only
 * types from workflows).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

export const ROOT = resolve(__dirname, '..');
export const CODE_DIRS = ['workflows', 'activities', 'client', 'worker', 'policy', 'simulator', 'codec'];
export const MAX_FUNCTION_LINES = 150;
export const MAX_CLIENT_FILE_LINES = 400;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

export interface FunctionLength {
  file: string;
  name: string;
  lines: number;
}

function functionName(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name && ts.isIdentifier(named.name)) return named.name.text;
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (parent && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  return '(anonymous)';
}

export function functionLengths(dirs = CODE_DIRS): FunctionLength[] {
  const out: FunctionLength[] = [];
  for (const dir of dirs) {
    for (const path of sourceFiles(join(ROOT, dir))) {
      const text = readFileSync(path, 'utf8');
      const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
          const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
          const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
          out.push({ file: relative(ROOT, path), name: functionName(node), lines: end - start + 1 });
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
  }
  return out.sort((a, b) => b.lines - a.lines);
}

export function fileLengths(dir: string): { file: string; lines: number }[] {
  return sourceFiles(join(ROOT, dir))
    .map((path) => ({ file: relative(ROOT, path), lines: readFileSync(path, 'utf8').split('\n').length }))
    .sort((a, b) => b.lines - a.lines);
}

/** Imports in activities/ of workflows/ modules that bring values (not `import type`). */
export function valueImportsOfWorkflows(): string[] {
  const out: string[] = [];
  for (const path of sourceFiles(join(ROOT, 'activities'))) {
    const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    for (const statement of source.statements) {
      if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
      const spec = statement.moduleSpecifier;
      if (!spec || !ts.isStringLiteral(spec) || !/\/workflows\//.test(spec.text)) continue;
      const typeOnly = ts.isImportDeclaration(statement)
        ? statement.importClause?.isTypeOnly ||
          (statement.importClause?.namedBindings &&
            ts.isNamedImports(statement.importClause.namedBindings) &&
            !statement.importClause.name &&
            statement.importClause.namedBindings.elements.every((e) => e.isTypeOnly))
        : statement.isTypeOnly;
      if (!typeOnly) out.push(`${relative(ROOT, path)}: ${spec.text}`);
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(__filename)) {
  console.log('| function | file | lines |\n| --- | --- | --- |');
  for (const f of functionLengths().slice(0, 15)) console.log(`| ${f.name} | ${f.file} | ${f.lines} |`);
  console.log('\n| client/ file | lines |\n| --- | --- |');
  for (const f of fileLengths('client').slice(0, 5)) console.log(`| ${f.file} | ${f.lines} |`);
  const imports = valueImportsOfWorkflows();
  console.log(
    `\nvalue imports of workflows/ in activities/: ${imports.length ? imports.join(', ') : 'none'}`,
  );
}
