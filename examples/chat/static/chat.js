// The chat page: join a room, then send and show messages over one
// WebSocket. User text is only ever set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
let socket = null;
let me = "";

function setStatus(connected) {
  $("status").textContent = connected ? "connected" : "disconnected";
  $("status").classList.toggle("on", connected);
  $("send").disabled = !connected;
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
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const url = proto + "//" + location.host + "/chatroom/" + encodeURIComponent(room) +
    "?name=" + encodeURIComponent(name);
  let opened = false;
  socket = new WebSocket(url);
  socket.onopen = () => {
    opened = true;
    setStatus(true);
    $("text").focus();
  };
  socket.onmessage = onFrame;
  socket.onclose = () => {
    setStatus(false);
    if (!opened) showError("Could not join the room.");
  };
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
  if (text === "" || !socket || socket.readyState !== WebSocket.OPEN) return;
  showError("");
  socket.send(JSON.stringify({ type: "message", text: text }));
  $("text").value = "";
});

setStatus(false);
