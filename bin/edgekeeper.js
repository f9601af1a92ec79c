#!/usr/bin/env node
// The `edgekeeper` command. Installed from npm, it runs the CLI compiled into dist/; in a
// clone of the repository, where the TypeScript sources sit beside this file, it runs
// those (Node 24 strips their types), so that editing them needs no build.
import { existsSync } from "node:fs";

const source = new URL("../bridge/cli/edgekeeper.ts", import.meta.url);
await import(existsSync(source) ? source.href : new URL("../dist/bridge/cli/edgekeeper.js", import.meta.url).href);
