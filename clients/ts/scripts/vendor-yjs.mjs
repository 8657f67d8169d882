// Bundles yjs and y-websocket (from this package's pinned devDependencies)
// into one ES module for the editor demo's page, examples/editor/static/yjs.js,
// which is checked in so that `go run ./cmd/roost serve` needs no npm.
// Run from clients/ts: npm run vendor-yjs. With an argument, writes there
// instead (the test compares a fresh bundle with the checked-in one).
import { build } from "esbuild";
import { resolve } from "node:path";

/** The checked-in bundle. */
export const target = resolve(import.meta.dirname, "../../../examples/editor/static/yjs.js");

/** Writes the bundle to outfile. */
export async function bundle(outfile) {
  await build({
    stdin: {
      contents: 'export * as Y from "yjs";\nexport { WebsocketProvider } from "y-websocket";\n',
      resolveDir: resolve(import.meta.dirname, ".."),
      sourcefile: "yjs-entry.js",
    },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "none",
    banner: { js: "// yjs and y-websocket (MIT), bundled by clients/ts/scripts/vendor-yjs.mjs: do not edit." },
    outfile,
    logLevel: "warning",
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? target;
  await bundle(out);
  console.log(`bundled yjs and y-websocket into ${out}`);
}
