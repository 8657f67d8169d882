// The chat demo embeds a copy of the built client: it must be the build of
// the present sources (npm run vendor writes it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { target, vendored } from "../scripts/vendor.mjs";

test("the chat demo's copy of the client is the present build", () => {
  const want = vendored();
  assert.deepEqual(readdirSync(target).sort(), [...want.keys()], "npm run vendor: the files differ");
  for (const [name, src] of want) {
    assert.equal(readFileSync(join(target, name), "utf8"), src, `${name} differs from the build: run npm run vendor`);
  }
});
