#!/usr/bin/env node
/**
 * The `mcp-ssh-live` executable's entry: sets V8's heap flags, then loads and runs the
 * server (cli.ts). Nothing else may be imported here: parsing the modules alone would
 * grow the heap before the flags are set.
 *
 * V8 grows its young generation (new space) as a process allocates, up to 2 × 16–32 MB of
 * semi-spaces, and never gives it back. This server allocates fast and briefly (SSH
 * packets, decoded lines, replies) and keeps little, so a grown young generation is mostly
 * RSS without benefit: 100 jobs × 100 000 lines peaked ~100 MB higher with it, and ran no
 * faster. `--max-semi-space-size` can only be given at launch, but the growth factor is
 * read each time new space would grow: set to 1 here, it keeps new space at its initial
 * size whatever command starts the server. A launch flag that sizes new space
 * (`--max-semi-space-size`, `--semi-space-growth-factor`, on the command line or in
 * NODE_OPTIONS) wins: then nothing is changed.
 *
 * @since 0.1.0
 */
import { setFlagsFromString } from "node:v8"

if (!/semi[-_]space/.test(`${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`)) {
  setFlagsFromString("--semi-space-growth-factor=1")
}

await import("./cli.js")
