// RoostSocket against a real `roost serve` (the room class: every message
// goes to every socket of the room): reconnection after a kill -9 and a
// restart, after a network cut, giving up, the send buffer and its bound.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { RoostClient, RoostError } from "../dist/index.js";
import { Server, until } from "./server.mjs";
import { Proxy } from "./proxy.mjs";

let server;

before(async () => {
  server = await new Server().start();
});

after(async () => {
  await server.dispose();
});

/** Collects a socket's text messages and states. */
function watch(socket) {
  const seen = { messages: [], states: [], closes: [], errors: [] };
  socket.addEventListener("message", (ev) => seen.messages.push(ev.data));
  socket.addEventListener("state", (ev) => seen.states.push(ev.detail));
  socket.addEventListener("close", (ev) => seen.closes.push(ev.detail));
  socket.addEventListener("error", (ev) => seen.errors.push(ev.detail));
  return seen;
}

const fast = { minDelay: 50, maxDelay: 400 };

test("messages go out and come back; close ends it for good", async () => {
  const client = new RoostClient(server.url);
  const s = client.object("room", "basic").socket("/", fast);
  const seen = watch(s);
  s.send("before-open"); // buffered until the connection opens
  await until(() => s.state === "open", 10_000, "open");
  s.send("after-open");
  await until(() => seen.messages.length === 2, 10_000, "both messages back");
  assert.deepEqual(seen.messages, ["before-open", "after-open"]);
  s.close();
  assert.equal(s.state, "closed");
  assert.throws(() => s.send("x"), (e) => e instanceof RoostError && e.code === "socket_closed");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(seen.states, ["open", "closed"], "no reconnection after close()");
});

test("after kill -9 and a restart it reconnects, and sends made meanwhile arrive", async () => {
  const client = new RoostClient(server.url);
  const s = client.object("room", "restart").socket("/", fast);
  const seen = watch(s);
  await until(() => s.state === "open", 10_000, "open");
  await server.kill();
  await until(() => s.state === "reconnecting", 10_000, "reconnecting after the kill");
  for (let i = 0; i < 5; i++) s.send(`while-down-${i}`);
  assert.ok(s.bufferedBytes > 0);
  const down = Date.now();
  await server.start();
  await until(() => s.state === "open", 15_000, "open again after the restart");
  const took = Date.now() - down;
  await until(() => seen.messages.length === 5, 10_000, "the buffered messages back");
  assert.deepEqual(seen.messages, [0, 1, 2, 3, 4].map((i) => `while-down-${i}`));
  assert.equal(s.bufferedBytes, 0);
  assert.ok(seen.closes.some((c) => c.willReconnect && (c.code === 1006 || c.code === 1001)), JSON.stringify(seen.closes));
  console.log(`reconnected ${took} ms after the restart began`);
  s.close();
});

test("after a network cut it reconnects once the network heals", async () => {
  const proxy = await new Proxy(server.port).start();
  try {
    const client = new RoostClient(`http://127.0.0.1:${proxy.port}`);
    const s = client.object("room", "cut").socket("/", fast);
    const seen = watch(s);
    await until(() => s.state === "open", 10_000, "open");
    proxy.cutAll();
    await until(() => s.state === "reconnecting", 10_000, "reconnecting after the cut");
    s.send("during-cut");
    await new Promise((r) => setTimeout(r, 500)); // attempts fail while cut
    assert.ok(s.failures >= 1, `failures ${s.failures}`);
    proxy.heal();
    await until(() => seen.messages.includes("during-cut"), 10_000, "the message sent during the cut");
    assert.equal(s.state, "open");
    s.close();
  } finally {
    await proxy.close();
  }
});

test("it gives up after maxRetries failed attempts with reconnect_failed", async () => {
  const proxy = await new Proxy(server.port).start();
  try {
    const client = new RoostClient(`http://127.0.0.1:${proxy.port}`);
    const s = client.object("room", "give-up").socket("/", { ...fast, maxRetries: 3 });
    const seen = watch(s);
    await until(() => s.state === "open", 10_000, "open");
    proxy.cutAll();
    await until(() => s.state === "closed", 10_000, "closed after its retries");
    assert.equal(seen.errors.length, 1);
    assert.equal(seen.errors[0].code, "reconnect_failed");
    assert.match(seen.errors[0].message, /4 attempts in a row failed/);
  } finally {
    await proxy.close();
  }
});

test("sends while disconnected are bounded by maxBufferedBytes", async () => {
  const client = new RoostClient("http://127.0.0.1:1"); // nothing listens
  const s = client.object("room", "bounded").socket("/", { ...fast, maxBufferedBytes: 10 });
  s.send("12345");
  s.send("67890");
  assert.throws(() => s.send("x"), (e) => e instanceof RoostError && e.code === "buffer_full");
  assert.equal(s.bufferedBytes, 10);
  s.close();
});

test("RPC calls over the socket: answers and errors, a call made while the server is down, and a closed socket's", async () => {
  const client = new RoostClient(server.url);
  const s = client.object("room", "calls").socket("/", fast);
  const seen = watch(s);
  assert.deepEqual(await s.call("members"), { members: 1 }, "a call made before the socket opened");
  await assert.rejects(s.call("nope", {}), (err) => err instanceof RoostError && err.code === "unknown_method");
  s.send("plain");
  await until(() => seen.messages.includes("plain"), 10_000, "the plain message back");
  assert.deepEqual(seen.messages, ["plain"], "answers to calls are not messages");

  await server.kill();
  await until(() => s.state !== "open", 10_000, "the socket sees the server gone");
  const pending = s.call("members");
  await server.start();
  assert.deepEqual(await pending, { members: 1 }, "the call made while the server was down, once it is back");

  const last = s.call("members");
  s.close();
  await assert.rejects(last, (err) => err instanceof RoostError && err.code === "socket_closed");
  await assert.rejects(s.call("members"), (err) => err instanceof RoostError && err.code === "socket_closed");
});
