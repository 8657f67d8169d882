// Workflows from TypeScript against a real `roost serve` (the demo's
// workflows: threestep, and order, which retries, sleeps and waits for an
// event).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { RoostClient, RoostError } from "../dist/index.js";
import { Server } from "./server.mjs";

let server;
let client;

before(async () => {
  server = await new Server(["--order-sleep", "100ms"]).start();
  client = new RoostClient(server.url);
});

after(async () => {
  await server.dispose();
});

test("create, wait for the end, list", async () => {
  const wf = client.workflow("threestep");
  const inst = await wf.create(4, { id: "ts-three" });
  assert.equal(inst.created, true);
  const st = await inst.wait({ timeout: 30_000 });
  assert.equal(st.status, "complete");
  assert.equal(st.output, 7);
  assert.deepEqual(st.steps.map((s) => s.name), ["one", "two", "three"]);
  const again = await wf.create(4, { id: "ts-three" });
  assert.equal(again.created, false, "creating an existing ID answers it");
  const page = await wf.list({ status: "complete" });
  assert.ok(page.instances.some((i) => i.id === "ts-three"), JSON.stringify(page));
});

test("an instance waits for its event, then completes", async () => {
  const inst = await client.workflow("order").create({ customer: "ada", item: "soup", cents: 900 });
  let st = await inst.status();
  for (let i = 0; st.status !== "waiting" && i < 300; i++) {
    await new Promise((r) => setTimeout(r, 100));
    st = await inst.status();
  }
  assert.equal(st.status, "waiting", JSON.stringify(st));
  await inst.sendEvent("delivered", { by: "bob" });
  st = await inst.wait({ timeout: 30_000 });
  assert.equal(st.status, "complete", JSON.stringify(st));
  assert.equal(st.output.delivered, true);
  assert.match(st.output.notification, /ada, rate your meal \(soup, delivered by bob\)/);
});

test("wait's timeout, and errors with their codes", async () => {
  const inst = await client.workflow("order").create({ customer: "eve", item: "tea", cents: 100 });
  const err = await inst.wait({ timeout: 1500 }).catch((e) => e);
  assert.ok(err instanceof RoostError && err.code === "timeout", String(err));
  await inst.terminate();
  assert.equal((await inst.status()).status, "terminated");
  const missing = await client.workflow("threestep").instance("no-such").status().catch((e) => e);
  assert.equal(missing.code, "unknown_instance");
  assert.equal(missing.status, 404);
  const unknown = await client.workflow("nope").create({}).catch((e) => e);
  assert.equal(unknown.code, "unknown_workflow");
});
