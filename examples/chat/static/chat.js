// The chat page: join a room, then send and show messages over one socket
// of Roost's TypeScript client (a copy of clients/ts's build), which
// connects again by itself after a server restart or a network failure and
// sends what was written meanwhile once it is back. The room answers every
// new connection with its history and the people present, so the page is
// current again after each one. User text is only ever set with
// textContent.
import { RoostClient } from "./roost-client/index.js";

const $ = (id) => document.getElementById(id);
const client = new RoostClient(location.origin);
let socket = null;
let me = "";

// setStatus shows the socket's state: connected, reconnecting (messages
// wait and go out when it is back) or disconnected (for good).
function setStatus(state) {
  const text = { open: "connected", connecting: "connecting", reconnecting: "reconnecting" }[state] ?? "disconnected";
  $("status").textContent = text;
  $("status").classList.toggle("on", state === "open");
  $("send").disabled = state === "closed";
}

function showError(text) {
  $("error").textContent = text;
}

function addMessage(m) {
  const list = $("messages");
  const li = document.createElement("li");
  li.className = m.name === me ? "message mine" : "message";
  const at = new Date(m.at);
  if (!isNaN(at)) li.title = at.toLocaleString();
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = m.name;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = m.text;
  li.append(name, text);
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  if (atBottom || m.name === me) list.scrollTop = list.scrollHeight;
}

function setPeople(names) {
  $("people").replaceChildren(...names.map((n) => {
    const li = document.createElement("li");
    li.textContent = n;
    return li;
  }));
}

function onFrame(ev) {
  let f;
  try {
    f = JSON.parse(ev.data);
  } catch {
    return;
  }
  switch (f.type) {
    case "history":
      $("messages").replaceChildren();
      f.messages.forEach(addMessage);
      break;
    case "presence":
      setPeople(f.names);
      break;
    case "message":
      addMessage(f);
      break;
    case "error":
      showError(f.message);
      break;
  }
}

function join(room, name) {
  me = name;
  let opened = false;
  // Joining fails for good after five failed attempts in a row; once in,
  // the page keeps trying as long as it is open.
  socket = client.object("chatroom", room).socket("/?name=" + encodeURIComponent(name), { maxRetries: 5 });
  socket.addEventListener("state", (ev) => setStatus(ev.detail));
  socket.addEventListener("open", () => {
    if (!opened) $("text").focus();
    opened = true;
    socket.maxRetries = Infinity;
  });
  socket.addEventListener("message", onFrame);
  socket.addEventListener("error", () => {
    showError(opened ? "Lost the connection to the room." : "Could not join the room.");
  });
  setStatus(socket.state);
  $("room-name").textContent = room;
  $("join-form").hidden = true;
  $("chat").hidden = false;
}

$("join-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const room = $("room").value.trim();
  const name = $("name").value.trim();
  if (room === "") {
    showError("Enter a room.");
    return;
  }
  const n = [...name].length;
  if (n < 1 || n > 32) {
    showError("Enter a name of 1 to 32 characters.");
    return;
  }
  showError("");
  join(room, name);
});

$("message-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (text === "" || !socket || socket.state === "closed") return;
  showError("");
  try {
    socket.send(JSON.stringify({ type: "message", text: text }));
  } catch (err) {
    showError(err.message); // too much waits for the connection
    return;
  }
  $("text").value = "";
});

setStatus("closed");
