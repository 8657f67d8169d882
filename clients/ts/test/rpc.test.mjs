// RPC from TypeScript against a real `roost serve`: typed calls with the
// types `roost gen ts` writes, the same answers and error codes as curl.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RoostClient, RoostError } from "../dist/index.js";
import { Server, roostBinary } from "./server.mjs";

let server;
let client;

before(async () => {
  server = await new Server().start();
  client = new RoostClient(server.url);
});

after(async () => {
  await server.dispose();
});

/** POST with curl: its status and body. */
function curl(url, body) {
  const out = execFileSync("curl", ["-sS", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body, "-w", "\n%{http_code}", url], {
    encoding: "utf8",
  });
  const i = out.lastIndexOf("\n");
  return { body: out.slice(0, i), status: Number(out.slice(i + 1)) };
}

test("a call answers what curl gets, and its writes are the object's", async () => {
  const c = client.object("counter", "rpc-1");
  assert.deepEqual(await c.call("add", { by: 5 }), { value: 5 });
  const viaCurl = curl(`${server.url}/counter/rpc-1/rpc/add`, '{"by":2}');
  assert.equal(viaCurl.status, 200);
  assert.deepEqual(JSON.parse(viaCurl.body), { value: 7 });
  assert.deepEqual(await c.call("get", {}), { value: 7 });
  const resp = await c.fetch("/");
  assert.deepEqual(await resp.json(), { value: 7 }, "the HTTP route sees the RPC writes");
  const byId = client.objectById("counter", await idOf("rpc-1"));
  assert.deepEqual(await byId.call("get", {}), { value: 7 });
});

test("errors have the codes and statuses curl sees", async () => {
  const cases = [
    { method: "nope", body: {}, code: "unknown_method", status: 404 },
    { method: "add", body: { by: "five" }, code: "bad_request", status: 400 },
  ];
  for (const { method, body, code, status } of cases) {
    const err = await client.object("counter", "rpc-2").call(method, body).then(
      () => assert.fail(`${method} succeeded`),
      (e) => e,
    );
    assert.ok(err instanceof RoostError, `${method}: ${err}`);
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    const viaCurl = curl(`${server.url}/counter/rpc-2/rpc/${method}`, JSON.stringify(body));
    assert.equal(viaCurl.status, status);
    assert.equal(JSON.parse(viaCurl.body).error.code, code);
  }
  const unknown = await client.object("nope", "x").call("get", {}).catch((e) => e);
  assert.equal(unknown.code, "unknown_class");
});

test("no server: network_error", async () => {
  const c = new RoostClient("http://127.0.0.1:1");
  const err = await c.object("counter", "x").call("get", {}).catch((e) => e);
  assert.ok(err instanceof RoostError);
  assert.equal(err.code, "network_error");
  assert.equal(err.retryable, true);
});

test("roost gen ts types check typed calls at compile time", () => {
  const dir = mkdtempSync(join(tmpdir(), "roost-ts-gen-"));
  try {
    execFileSync(roostBinary(), ["gen", "ts", "--server", server.url, "-o", join(dir, "roost-types.ts")], { stdio: "pipe" });
    const dist = resolve(import.meta.dirname, "../dist/index.js");
    writeFileSync(
      join(dir, "good.ts"),
      `import { RoostClient } from ${JSON.stringify(dist)};
import type { RoostMethods } from "./roost-types.js";
const c = new RoostClient<RoostMethods>("http://127.0.0.1:8080").object("counter", "a");
export const v: Promise<{ value: number }> = c.call("add", { by: 1 });
export const r: Promise<{ allowed: boolean }> = new RoostClient<RoostMethods>("x").object("ratelimit", "ip").call("allow", {});
`,
    );
    writeFileSync(
      join(dir, "bad.ts"),
      `import { RoostClient } from ${JSON.stringify(dist)};
import type { RoostMethods } from "./roost-types.js";
const c = new RoostClient<RoostMethods>("http://127.0.0.1:8080").object("counter", "a");
export const a = c.call("add", { by: "one" });
export const b = c.call("nope", {});
`,
    );
    const tsc = resolve(import.meta.dirname, "../node_modules/typescript/bin/tsc");
    const flags = ["--noEmit", "--strict", "--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext", "--lib", "ES2022,DOM"];
    const good = spawnSync(process.execPath, [tsc, ...flags, join(dir, "good.ts")], { encoding: "utf8" });
    assert.equal(good.status, 0, `tsc on a correct use of the generated types:\n${good.stdout}${good.stderr}`);
    const bad = spawnSync(process.execPath, [tsc, ...flags, join(dir, "bad.ts")], { encoding: "utf8" });
    assert.notEqual(bad.status, 0, "tsc accepted a wrong request type and an unknown method");
    assert.match(bad.stdout, /bad\.ts\(4,.*Type 'string' is not assignable to type 'number'/);
    assert.match(bad.stdout, /bad\.ts\(5,.*"nope"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The ID of counter/name, from the header of an RPC call's answer. */
async function idOf(name) {
  const resp = await fetch(`${server.url}/counter/${name}/rpc/get`, { method: "POST" });
  assert.equal(resp.status, 200);
  return resp.headers.get("X-Roost-Object-Id");
}
