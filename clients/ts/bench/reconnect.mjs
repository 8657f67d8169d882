// How long a RoostSocket (default options) takes to be open again after
// its server restarts: kill -9 (or SIGTERM with ROUNDS_TERM=1), restart on
// the same port and data, and measure from the new server's "listening"
// line to the socket's "open", and from the kill to the "open" (what a user
// sees). Prints each round and the percentiles.
//
//   node --experimental-websocket bench/reconnect.mjs [rounds]   (npm run build first)
import { RoostClient } from "../dist/index.js";
import { Server, until } from "../test/server.mjs";

const rounds = Number(process.argv[2] ?? 20);
const term = process.env.ROUNDS_TERM === "1";
const server = await new Server().start();
const socket = new RoostClient(server.url).object("room", "bench").socket("/");
await until(() => socket.state === "open", 10_000, "first open");
const times = [];
const outages = [];
for (let i = 0; i < rounds; i++) {
  // Open for longer than a second: the backoff starts again from minDelay,
  // as after any restart that does not follow another within a second.
  await new Promise((r) => setTimeout(r, 1500));
  const down = performance.now();
  if (term) await server.stop();
  else await server.kill();
  await until(() => socket.state === "reconnecting", 10_000, "reconnecting");
  // The server is down for a moment, as a real restart is.
  await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
  await server.start();
  const up = performance.now();
  await until(() => socket.state === "open", 30_000, "open again");
  times.push(performance.now() - up);
  outages.push(performance.now() - down);
  console.log(`round ${i + 1}: open ${times.at(-1).toFixed(0)} ms after the server listened, ${outages.at(-1).toFixed(0)} ms after the kill`);
}
socket.close();
await server.dispose();
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))].toFixed(0);
const line = (xs) => `p50 ${pct(xs, 50)} ms, p90 ${pct(xs, 90)} ms, max ${pct(xs, 100)} ms`;
console.log(`${term ? "SIGTERM" : "kill -9"}, ${rounds} restarts: open after the server listened: ${line(times)}; after the kill: ${line(outages)}`);
