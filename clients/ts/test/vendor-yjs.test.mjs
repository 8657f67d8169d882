// The editor demo embeds a bundle of yjs and y-websocket: it must be what
// the pinned packages bundle into now (npm run vendor-yjs writes it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle, target } from "../scripts/vendor-yjs.mjs";

test("the editor demo's yjs bundle is what the pinned packages bundle into", async () => {
  const dir = mkdtempSync(join(tmpdir(), "roost-vendor-yjs-"));
  try {
    const fresh = join(dir, "yjs.js");
    await bundle(fresh);
    assert.ok(readFileSync(target).equals(readFileSync(fresh)), "examples/editor/static/yjs.js differs: run npm run vendor-yjs");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
