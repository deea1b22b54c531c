#!/usr/bin/env node
// Entry for `npm run demo` / `npm test` on a fresh clone: installs the npm packages when they are
// missing or older than package-lock.json, then runs the TypeScript script through tsx.
// Plain CommonJS on purpose: it must run before anything is installed.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) {
  console.error(`retention-cleanup needs Node.js >= 20.18 (this is ${process.version}).`);
  process.exit(2);
}

const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  // `npm install` honours the locked versions. The committed lock lists every platform's optional
  // native packages (@swc/core-*), as npm 11 writes them, so an install leaves it unchanged; a lock
  // without them (npm 10 could prune them, npm/cli#7961) is rewritten by every install and refused
  // by `npm ci`.
  console.error('Installing npm packages (npm install)...');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const [script, ...args] = process.argv.slice(2);
const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, script), ...args], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? (r.signal ? 1 : 0));
