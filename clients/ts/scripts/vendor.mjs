// Copies the built client (dist/*.js, without source map comments) into the
// chat demo's static files, which the roost binary embeds: the page imports
// it as an ES module. Run `npm run vendor` after changing the client;
// test/vendor.test.mjs fails while the copy differs from the build.
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

export const dist = resolve(import.meta.dirname, "../dist");
export const target = resolve(import.meta.dirname, "../../../examples/chat/static/roost-client");

/** The files to vendor: name → content. */
export function vendored() {
  const out = new Map();
  for (const name of readdirSync(dist).filter((n) => n.endsWith(".js")).sort()) {
    const src = readFileSync(join(dist, name), "utf8").replace(/\n\/\/# sourceMappingURL=.*\n?$/, "\n");
    out.set(name, src);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(target, { recursive: true });
  for (const [name, src] of vendored()) writeFileSync(join(target, name), src);
  console.log(`copied the client into ${target}`);
}
