// A TCP proxy on loopback that the tests cut and heal: a network failure
// between the client and the server.
import net from "node:net";

export class Proxy {
  constructor(targetPort) {
    this.targetPort = targetPort;
    this.conns = new Set();
    this.cut = false;
  }

  async start() {
    this.server = net.createServer((a) => {
      if (this.cut) {
        a.resetAndDestroy();
        return;
      }
      const b = net.connect(this.targetPort, "127.0.0.1");
      const pair = { a, b };
      this.conns.add(pair);
      const end = () => {
        this.conns.delete(pair);
        a.destroy();
        b.destroy();
      };
      a.on("error", end).on("close", end);
      b.on("error", end).on("close", end);
      a.pipe(b);
      b.pipe(a);
    });
    await new Promise((ok) => this.server.listen(0, "127.0.0.1", ok));
    this.port = this.server.address().port;
    return this;
  }

  /** Resets every connection and refuses new ones until heal. */
  cutAll() {
    this.cut = true;
    for (const { a, b } of this.conns) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.conns.clear();
  }

  heal() {
    this.cut = false;
  }

  async close() {
    this.cutAll();
    await new Promise((ok) => this.server.close(ok));
  }
}
