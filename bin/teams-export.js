#!/usr/bin/env node
// The `teams-export` command: runs the compiled CLI (`npm run build` first when working from source).
'use strict';
require('../dist/src/cli/main.js').runFromProcess();
