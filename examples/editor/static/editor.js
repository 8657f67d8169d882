// The editor page: a textarea bound to the Y.Text "t" of the Yjs document
// /yjs/{doc}, and the people on it from the awareness protocol.
import { Y, WebsocketProvider } from "./yjs.js";

const docName = new URLSearchParams(location.search).get("doc") || "welcome";
const me = { name: "guest-" + Math.floor(100 + Math.random() * 900), color: `hsl(${Math.floor(Math.random() * 360)} 60% 40%)` };

const ydoc = new Y.Doc();
const text = ydoc.getText("t");
const server = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/yjs";
const provider = new WebsocketProvider(server, docName, ydoc, { disableBc: true });
provider.awareness.setLocalStateField("user", me);

const area = document.getElementById("text");
const statusEl = document.getElementById("status");
document.getElementById("doc").textContent = docName;
document.getElementById("doc-path").textContent = docName;
document.getElementById("me").textContent = me.name;

provider.on("status", ({ status }) => {
  statusEl.textContent = status; // connecting, connected, disconnected
  statusEl.className = status;
});

// What the textarea showed after the last change, ours or not: an input
// event turns the difference into one delete and one insert.
let shown = "";
area.addEventListener("input", () => {
  const next = area.value;
  const { start, endOld, endNew } = diff(shown, next);
  ydoc.transact(() => {
    if (endOld > start) text.delete(start, endOld - start);
    if (endNew > start) text.insert(start, next.slice(start, endNew));
  }, "page");
  shown = next;
});

// diff returns where old and next differ: old[start, endOld) became
// next[start, endNew). The bounds never fall inside a surrogate pair: Y.Text
// replaces half a pair with U+FFFD, so swapping 😀 for 💀 (the same first
// half) would otherwise put two broken characters into the document.
function diff(old, next) {
  let start = 0;
  while (start < old.length && start < next.length && old[start] === next[start]) start++;
  if (start > 0 && isHigh(old.charCodeAt(start - 1))) start--;
  let endOld = old.length;
  let endNew = next.length;
  while (endOld > start && endNew > start && old[endOld - 1] === next[endNew - 1]) {
    endOld--;
    endNew--;
  }
  if (endOld < old.length && isLow(old.charCodeAt(endOld))) {
    endOld++;
    endNew++;
  }
  return { start, endOld, endNew };
}

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

// Others' changes: the caret moves with the text before it.
text.observe((event) => {
  if (event.transaction.origin === "page") return;
  let [from, to] = [area.selectionStart, area.selectionEnd];
  let at = 0;
  for (const op of event.delta) {
    if (op.retain) at += op.retain;
    else if (op.insert) {
      const n = op.insert.length;
      if (at < from) from += n;
      if (at < to) to += n;
      at += n;
    } else if (op.delete) {
      if (at < from) from -= Math.min(op.delete, from - at);
      if (at < to) to -= Math.min(op.delete, to - at);
    }
  }
  shown = text.toString();
  area.value = shown;
  if (document.activeElement === area) area.setSelectionRange(from, to);
});

// Who is here: every client's user, this page's first.
const people = document.getElementById("people");
function showPeople() {
  const states = [...provider.awareness.getStates().entries()]
    .filter(([, s]) => s.user)
    .sort(([a], [b]) => (a === ydoc.clientID ? -1 : b === ydoc.clientID ? 1 : a - b));
  people.replaceChildren(...states.map(([id, s]) => {
    const li = document.createElement("li");
    li.textContent = s.user.name + (id === ydoc.clientID ? " (you)" : "");
    li.dataset.name = s.user.name;
    li.style.background = s.user.color;
    return li;
  }));
}
provider.awareness.on("change", showPeople);
showPeople();
