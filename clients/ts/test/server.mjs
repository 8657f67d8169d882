// Starts real `roost serve` processes for the client's tests: the binary is
// built once from this repository (go build), each server gets a temporary
// data directory and a loopback port it keeps across restarts.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import net from "node:net";

const repo = resolve(import.meta.dirname, "../../..");
let binary;

/** The path of the roost binary, built on first use. */
export function roostBinary() {
  if (!binary) {
    const dir = mkdtempSync(join(tmpdir(), "roost-ts-bin-"));
    binary = join(dir, "roost");
    execFileSync("go", ["build", "-o", binary, "./cmd/roost"], { cwd: repo, stdio: "inherit" });
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return binary;
}

/** A free loopback port. */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((ok) => srv.listen(0, "127.0.0.1", ok));
  const { port } = srv.address();
  await new Promise((ok) => srv.close(ok));
  return port;
}

/**
 * A roost server: start() runs it on its port and data directory and waits
 * for its "listening" line; kill() sends SIGKILL, stop() SIGTERM; both wait
 * for the exit. dispose() stops it and removes its data.
 */
export class Server {
  constructor(args = []) {
    this.args = args;
    this.dir = mkdtempSync(join(tmpdir(), "roost-ts-data-"));
    this.proc = null;
    this.output = "";
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.port ??= await freePort();
    const proc = spawn(roostBinary(), ["serve", "--addr", `127.0.0.1:${this.port}`, "--data", this.dir, ...this.args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    this.exited = new Promise((ok) => proc.once("exit", (code, signal) => ok({ code, signal })));
    await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`roost serve logged no listening line within 30 s:\n${this.output}`)), 30_000);
      const onData = (chunk) => {
        this.output += chunk;
        if (/msg=listening/.test(this.output)) {
          clearTimeout(timer);
          ok();
        }
      };
      proc.stdout.on("data", onData);
      proc.stderr.on("data", onData);
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`roost serve exited (${code ?? signal}) before listening:\n${this.output}`));
      });
    });
    return this;
  }

  async kill() {
    if (!this.proc) return;
    this.proc.kill("SIGKILL");
    await this.exited;
    this.proc = null;
  }

  async stop() {
    if (!this.proc) return;
    this.proc.kill("SIGTERM");
    const { code } = await this.exited;
    this.proc = null;
    if (code !== 0) throw new Error(`roost serve exited with ${code} after SIGTERM:\n${this.output}`);
  }

  async dispose() {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves when cond() holds, polling every 20 ms; rejects after ms. */
export async function until(cond, ms = 10_000, what = "condition") {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
