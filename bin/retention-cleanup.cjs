#!/usr/bin/env node
// `retention-cleanup` (npx retention-cleanup, npm run cli --): runs the TypeScript CLI without a build
// by registering tsx's CommonJS hook, then client/cli.ts. See docs/cli.md.
'use strict';
require('tsx/cjs');
require('../client/cli.ts').main(process.argv.slice(2));
