// Yjs documents (the yjs class of `roost serve`) with unmodified yjs and
// y-websocket clients from npm: concurrent editing through a kill -9 and a
// restart of the server, offline edits, hibernation, awareness, the stored
// size after many edits, and the server's merge of updates sent in any
// order.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { Server, until } from "./server.mjs";

let server;

before(async () => {
  // Objects leave memory after 300 ms without events: documents hibernate
  // with their sockets open within each test.
  server = await new Server(["--idle-timeout", "300ms"]).start();
});

after(async () => {
  await server.dispose();
});

/** A yjs client of doc through the server: its Y.Doc, text and provider. */
function client(doc, opts = {}) {
  const ydoc = new Y.Doc();
  const provider = new WebsocketProvider(`ws://127.0.0.1:${server.port}/yjs`, doc, ydoc, {
    disableBc: true, // only through the server, not between clients of this process
    maxBackoffTime: 300,
    ...opts,
  });
  return { ydoc, text: ydoc.getText("t"), provider };
}

const synced = (c) => until(() => c.provider.synced && c.provider.wsconnected, 15_000, "synced");

function close(...clients) {
  for (const c of clients) {
    c.provider.destroy();
    c.ydoc.destroy();
  }
}

/** The document as the server stores it (GET), applied to a new Y.Doc. */
async function stored(doc) {
  const res = await fetch(`${server.url}/yjs/${doc}`);
  assert.equal(res.status, 200);
  const ydoc = new Y.Doc();
  Y.applyUpdate(ydoc, new Uint8Array(await res.arrayBuffer()));
  return {
    ydoc,
    bytes: Number(res.headers.get("roost-yjs-stored-bytes")),
    updates: Number(res.headers.get("roost-yjs-stored-updates")),
  };
}

let seed = 42;
function rand(n) {
  // mulberry32: the tests' edits are the same on every run
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) % n;
}

function edit(text, i) {
  if (text.length > 0 && rand(4) === 0) text.delete(rand(text.length), 1 + rand(Math.min(3, text.length)));
  else text.insert(rand(text.length + 1), ["a", "bc", "😀", " ", "é"][rand(5)] + i);
}

test("three clients converge through an offline spell, a kill -9 and a restart, and the document outlives them", async () => {
  const [a, b, c] = [client("story"), client("story"), client("story")];
  await Promise.all([a, b, c].map(synced));
  for (let i = 0; i < 60; i++) edit([a, b, c][i % 3].text, i);

  c.provider.disconnect(); // c goes offline and edits there
  for (let i = 0; i < 30; i++) edit(c.text, 100 + i);
  for (let i = 0; i < 30; i++) edit([a, b][i % 2].text, 200 + i);
  await until(() => a.text.toString() === b.text.toString(), 10_000, "a and b converge");
  c.provider.connect();
  await synced(c);

  await server.kill(); // mid-session: the clients keep editing while it is down
  for (let i = 0; i < 30; i++) edit([a, b, c][i % 3].text, 300 + i);
  await server.start();
  for (let i = 0; i < 30; i++) edit([a, b, c][i % 3].text, 400 + i);

  const want = () => a.text.toString();
  await until(() => b.text.toString() === want() && c.text.toString() === want(), 20_000, "all three converge");
  assert.ok(want().length > 50, `the document holds ${want().length} characters`);
  // Every client is synced with the server: what it stores is what they see.
  await until(async () => (await stored("story")).ydoc.getText("t").toString() === want(), 10_000, "the server stores it");
  const content = want();
  close(a, b, c);

  await new Promise((r) => setTimeout(r, 1000)); // everyone left; the object left memory
  const late = client("story");
  await synced(late);
  assert.equal(late.text.toString(), content);
  close(late);
});

test("a late joiner gets the document while the object hibernates with sockets open", async () => {
  const a = client("hibernating");
  await synced(a);
  a.text.insert(0, "written before the object hibernated");
  await until(async () => (await stored("hibernating")).ydoc.getText("t").length > 0, 10_000, "stored");
  await new Promise((r) => setTimeout(r, 1000)); // a's socket stays open; the object leaves memory
  const b = client("hibernating");
  await synced(b);
  assert.equal(b.text.toString(), "written before the object hibernated");
  b.text.insert(0, "> ");
  await until(() => a.text.toString() === "> written before the object hibernated", 10_000, "a sees b's edit");
  close(a, b);
});

test("awareness is relayed, shown to late joiners, and cleared when a client leaves", async () => {
  const a = client("aware");
  await synced(a);
  a.provider.awareness.setLocalStateField("user", { name: "ada" });
  const b = client("aware");
  await synced(b);
  const names = () => [...b.provider.awareness.getStates().values()].map((s) => s.user?.name).filter(Boolean);
  await until(() => names().includes("ada"), 10_000, "b sees ada");
  close(a);
  await until(() => !names().includes("ada"), 10_000, "ada is gone for b");
  close(b);
});

test("after 10,000 small edits the stored size tracks the document, not its history", async () => {
  const a = client("long");
  await synced(a);
  let history = 0;
  a.ydoc.on("update", (u) => (history += u.length));
  for (let i = 0; i < 10_000; i++) {
    if (i % 10 === 9) a.text.delete(a.text.length - 1, 1);
    else a.text.insert(a.text.length, "x");
    if (i % 500 === 499) await new Promise((r) => setTimeout(r, 5)); // let the socket drain
  }
  const docBytes = Y.encodeStateAsUpdate(a.ydoc).length;
  let s;
  await until(async () => {
    s = await stored("long");
    return s.ydoc.getText("t").toString() === a.text.toString() && s.updates < 100;
  }, 30_000, "all edits stored and compacted");
  console.log(`10,000 edits: ${history} bytes of updates; the document encodes to ${docBytes} bytes; the server stores ${s.bytes} bytes in ${s.updates} updates`);
  assert.ok(s.bytes <= 4 * docBytes + 2048, `stored ${s.bytes} bytes for a document of ${docBytes}`);
  close(a);
});

test("updates posted in any order, with duplicates, merge into the document yjs builds", async () => {
  const ref = new Y.Doc();
  const updates = [];
  ref.on("update", (u) => updates.push(u));
  const peers = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
  for (const p of peers) p.on("update", (u, origin) => origin !== "sync" && Y.applyUpdate(ref, u));
  for (let i = 0; i < 600; i++) {
    const p = peers[rand(3)];
    const r = rand(10);
    if (r < 7) edit(p.getText("t"), i);
    else if (r < 8) p.getMap("m").set("k" + rand(4), [i, { nested: "v" + i }]);
    else if (r < 9) p.getArray("a").insert(0, [i]);
    else p.getText("t").format(0, 2, { bold: rand(2) === 0 || null });
    if (rand(8) === 0) {
      const [x, y] = [peers[rand(3)], peers[rand(3)]];
      Y.applyUpdate(y, Y.encodeStateAsUpdate(x, Y.encodeStateVector(y)), "sync");
    }
  }
  const sent = [...updates, ...updates.slice(0, 100)];
  for (let i = sent.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    [sent[i], sent[j]] = [sent[j], sent[i]];
  }
  for (const u of sent) {
    const res = await fetch(`${server.url}/yjs/shuffled`, { method: "POST", body: u });
    assert.equal(res.status, 200, await res.text());
  }
  const s = await stored("shuffled");
  const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  const json = (d) => JSON.stringify([d.getText("t").toDelta(), sorted(d.getMap("m").toJSON()), d.getArray("a").toJSON()]);
  assert.equal(json(s.ydoc), json(ref));
  assert.equal(s.ydoc.store.pendingStructs, null, "nothing is missing");

  const bad = await fetch(`${server.url}/yjs/shuffled`, { method: "POST", body: new Uint8Array([1, 1, 5, 0, 0x0b]) });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "bad_request");
  assert.equal(json((await stored("shuffled")).ydoc), json(ref), "a malformed update changes nothing");
});

test("reading a document that was never written creates nothing", async () => {
  const s = await stored("never-written");
  assert.equal(s.bytes, 0);
  assert.equal(s.updates, 0);
  assert.equal(s.ydoc.getText("t").length, 0);
});
