import { RoostError } from "./errors.js";

/** The platform's WebSocket constructor, or one with its interface (the `ws` package's). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

/**
 * A socket's state: `connecting` (the first attempt), `open`,
 * `reconnecting` (waiting for the next attempt, or making it) and `closed`
 * (for good: by {@link RoostSocket.close}, by a close code that is not
 * retried, or after the last attempt failed).
 */
export type SocketState = "connecting" | "open" | "reconnecting" | "closed";

/** Options of a {@link RoostSocket}. The delays are milliseconds. */
export interface SocketOptions {
  /** Subprotocols offered at each attempt. */
  protocols?: string | string[];
  /** The first reconnection delay. Default 250. */
  minDelay?: number;
  /** The longest reconnection delay (the cap of the exponential backoff). Default 10000. */
  maxDelay?: number;
  /**
   * How many attempts in a row may fail (never open) before the socket gives
   * up: it closes with a `reconnect_failed` error. Default Infinity.
   */
  maxRetries?: number;
  /** An attempt that has not opened after this long fails. Default 10000. */
  connectTimeout?: number;
  /**
   * The most bytes that sends made while the socket is not open may hold;
   * a send past it throws `buffer_full`. Default 1 MiB.
   */
  maxBufferedBytes?: number;
  /** The WebSocket constructor. Defaults to the platform's `WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** How binary messages arrive. Default "arraybuffer". */
  binaryType?: BinaryType;
}

/** The detail of a `close` event: the underlying connection's end. */
export interface CloseDetail {
  code: number;
  reason: string;
  /** Whether the socket will connect again. */
  willReconnect: boolean;
}

/**
 * Close codes after which a socket connects again: the server going away
 * (1001, a restart or a deploy), a connection lost without a close frame
 * (1005, 1006: a crash, a network cut), a server error (1011), a restart
 * (1012), the server's queues full (1013), a bad gateway (1014), and 1008,
 * which Roost sends a socket that fell behind its send queue.
 */
export const RECONNECT_CODES: ReadonlySet<number> = new Set([1001, 1005, 1006, 1008, 1011, 1012, 1013, 1014]);

type Data = string | ArrayBufferLike | Blob | ArrayBufferView;

/** An RPC call over a socket that waits for its answer. */
interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (err: RoostError) => void;
  method: string;
  /** Whether it went out on the current connection (else it waits in the queue). */
  sent: boolean;
}

/**
 * A WebSocket that connects again by itself.
 *
 * After a close with a code in {@link RECONNECT_CODES}, or a failed attempt,
 * it waits and tries again: the delays grow from `minDelay` by doubling up
 * to `maxDelay`, each drawn between half and all of that (jitter), and
 * start again from `minDelay` once a connection has stayed open for a
 * second. Other codes close it for good: 1000 (the object ended the
 * socket), 1002, 1003, 1007, 1009 and 1010 (the client sent what the server
 * refuses: trying again would repeat it) and the application's 4000–4999.
 * In a browser, going offline stops the attempts and coming back online
 * makes one at once.
 *
 * Messages sent while the socket is not open wait in a buffer (at most
 * `maxBufferedBytes`) and go out in order as soon as a connection opens,
 * before anything else. A message sent while it is open is handed to the
 * connection at once; if that connection then fails, the message may be
 * lost (use acknowledgements from the object for exactly-once).
 *
 * Events: `open`, `message` (a MessageEvent), `close` (a CustomEvent of
 * {@link CloseDetail}, for every connection that ends), `state` (a
 * CustomEvent of the new {@link SocketState}) and `error` (a CustomEvent
 * whose detail is a {@link RoostError}: `reconnect_failed` when it gives
 * up).
 */
export class RoostSocket extends EventTarget {
  /** The URL connected to (ws: or wss:). */
  readonly url: string;
  readonly #opts: Required<Omit<SocketOptions, "protocols" | "WebSocket">> & Pick<SocketOptions, "protocols">;
  readonly #WebSocket: WebSocketConstructor;
  #state: SocketState = "connecting";
  #ws: WebSocket | null = null;
  #queue: Data[] = [];
  #queued = 0;
  #failures = 0;
  #openedAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #offline = false;
  #calls = new Map<number, PendingCall>();
  #nextCall = 1;
  readonly #onOnline = (): void => {
    this.#offline = false;
    if (this.#state === "reconnecting" && this.#ws === null) {
      clearTimeout(this.#timer);
      this.#connect();
    }
  };
  readonly #onOffline = (): void => {
    this.#offline = true;
  };

  constructor(url: string, options: SocketOptions = {}) {
    super();
    this.url = url;
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WS !== "function") {
      throw new TypeError("RoostSocket: no WebSocket: pass options.WebSocket (Node 20: run with --experimental-websocket, or use the ws package)");
    }
    this.#WebSocket = WS;
    this.#opts = {
      protocols: options.protocols,
      minDelay: options.minDelay ?? 250,
      maxDelay: options.maxDelay ?? 10_000,
      maxRetries: options.maxRetries ?? Infinity,
      connectTimeout: options.connectTimeout ?? 10_000,
      maxBufferedBytes: options.maxBufferedBytes ?? 1 << 20,
      binaryType: options.binaryType ?? "arraybuffer",
    };
    const g = globalThis as { addEventListener?: EventTarget["addEventListener"] };
    if (typeof g.addEventListener === "function") {
      g.addEventListener("online", this.#onOnline);
      g.addEventListener("offline", this.#onOffline);
    }
    this.#connect();
  }

  /** The socket's state. */
  get state(): SocketState {
    return this.#state;
  }

  /** Bytes of the messages waiting for a connection. */
  get bufferedBytes(): number {
    return this.#queued;
  }

  /** Failed attempts since the last connection that stayed open. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * How many attempts in a row may fail before the socket gives up (the
   * option `maxRetries`); a page may allow few before its first connection
   * and raise it once it is in.
   */
  get maxRetries(): number {
    return this.#opts.maxRetries;
  }

  set maxRetries(n: number) {
    this.#opts.maxRetries = n;
  }

  /**
   * Sends data now if the socket is open, or else when it opens. Throws
   * `socket_closed` after {@link close}, and `buffer_full` when the waiting
   * messages would pass `maxBufferedBytes`.
   */
  send(data: Data): void {
    if (this.#state === "closed") throw new RoostError("socket_closed", `send on ${this.url}: the socket is closed`);
    if (this.#state === "open" && this.#ws) {
      this.#ws.send(data);
      return;
    }
    const n = sizeOf(data);
    if (this.#queued + n > this.#opts.maxBufferedBytes) {
      throw new RoostError("buffer_full", `send on ${this.url}: ${this.#queued} bytes already wait for a connection; ${n} more would pass maxBufferedBytes (${this.#opts.maxBufferedBytes})`);
    }
    this.#queue.push(data);
    this.#queued += n;
  }

  /**
   * Calls the RPC method `method` of the socket's object with `params` as its
   * request, over the socket (the class must allow it:
   * `ClassOptions.WebSocketRPC`), and resolves with the method's response
   * once its writes are durable. A call made while the socket is not open is
   * sent when it opens (within `maxBufferedBytes`, like {@link send}). It
   * rejects with a RoostError of the method's code (`unknown_method`,
   * `bad_request`, the method's own), with `network_error` when the
   * connection it went out on ended before the answer (the call may have
   * run), and with `socket_closed` when the socket closes for good first.
   */
  call<Resp = unknown>(method: string, params?: unknown): Promise<Resp> {
    const id = this.#nextCall++;
    const message = JSON.stringify({ rpc: method, id, params: params ?? null });
    return new Promise<Resp>((resolve, reject) => {
      const sent = this.#state === "open";
      this.send(message); // a throw rejects the call
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject, method, sent });
    });
  }

  /** Settles the call a reply answers, if it is one; reports whether it was. */
  #settle(data: unknown): boolean {
    if (typeof data !== "string" || !data.startsWith('{"rpc":')) return false;
    let reply: { rpc?: string; id?: unknown; result?: unknown; error?: { code: string; message: string } };
    try {
      reply = JSON.parse(data);
    } catch {
      return false;
    }
    const call = typeof reply.id === "number" ? this.#calls.get(reply.id) : undefined;
    if (!call || call.method !== reply.rpc) return false;
    this.#calls.delete(reply.id as number);
    if (reply.error) call.reject(new RoostError(reply.error.code, reply.error.message));
    else call.resolve(reply.result);
    return true;
  }

  /** Rejects the calls that went out on a connection that ended, or all of them. */
  #rejectCalls(all: boolean, err: () => RoostError): void {
    for (const [id, call] of this.#calls) {
      if (all || call.sent) {
        this.#calls.delete(id);
        call.reject(err());
      }
    }
  }

  /**
   * Closes the socket for good, with code (default 1000) and reason. Messages
   * still waiting for a connection are dropped.
   */
  close(code = 1000, reason = ""): void {
    if (this.#state === "closed") return;
    clearTimeout(this.#timer);
    clearTimeout(this.#connectTimer);
    const ws = this.#ws;
    this.#ws = null;
    this.#drop();
    this.#setState("closed");
    if (ws) {
      detach(ws);
      if (ws.readyState === ws.CONNECTING || ws.readyState === ws.OPEN) ws.close(code, reason);
      this.#emitClose(code, reason, false);
    }
  }

  /** Drops the current connection (if any) and connects again at once. */
  reconnect(): void {
    if (this.#state === "closed") return;
    clearTimeout(this.#timer);
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      detach(ws);
      ws.close(1000, "reconnect");
    }
    this.#setState("reconnecting");
    this.#connect();
  }

  #connect(): void {
    let ws: WebSocket;
    try {
      ws = new this.#WebSocket(this.url, this.#opts.protocols);
    } catch (err) {
      this.#fail(new RoostError("bad_request", `connect to ${this.url}: ${err instanceof Error ? err.message : String(err)}`, 0, { cause: err }));
      return;
    }
    ws.binaryType = this.#opts.binaryType;
    this.#ws = ws;
    this.#connectTimer = setTimeout(() => {
      if (this.#ws === ws && ws.readyState !== ws.OPEN) {
        detach(ws);
        ws.close();
        this.#ws = null;
        this.#lost(1006, `no connection within ${this.#opts.connectTimeout} ms`, false);
      }
    }, this.#opts.connectTimeout);
    ws.onopen = () => {
      clearTimeout(this.#connectTimer);
      this.#openedAt = Date.now();
      for (const data of this.#queue) ws.send(data);
      this.#queue = [];
      this.#queued = 0;
      for (const call of this.#calls.values()) call.sent = true;
      this.#setState("open");
      this.dispatchEvent(new Event("open"));
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.#calls.size > 0 && this.#settle(ev.data)) return;
      this.dispatchEvent(new MessageEvent("message", { data: ev.data }));
    };
    ws.onclose = (ev: CloseEvent) => {
      clearTimeout(this.#connectTimer);
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#lost(ev.code, ev.reason, this.#openedAt > 0);
    };
    ws.onerror = () => {
      // Once open, the close event that follows decides. An attempt that
      // failed before it opened ends here: some implementations (Node 20's)
      // fire no close event after a failed handshake.
      if (this.#ws !== ws || ws.readyState === ws.OPEN || this.#openedAt > 0) return;
      clearTimeout(this.#connectTimer);
      detach(ws);
      this.#ws = null;
      this.#lost(1006, "the connection failed", false);
    };
  }

  /** A connection ended (or never opened) with code: retry or give up. */
  #lost(code: number, reason: string, opened: boolean): void {
    this.#rejectCalls(false, () => new RoostError("network_error", `call on ${this.url}: the connection ended (${code} ${reason}) before the answer; the call may have run`));
    if (opened && Date.now() - this.#openedAt >= 1000) this.#failures = 0;
    this.#openedAt = 0;
    const retry = !opened || RECONNECT_CODES.has(code);
    if (!retry) {
      this.#drop();
      this.#setState("closed");
      this.#emitClose(code, reason, false);
      this.#detachGlobal();
      return;
    }
    this.#failures++;
    if (this.#failures > this.#opts.maxRetries) {
      this.#emitClose(code, reason, false);
      this.#fail(new RoostError("reconnect_failed", `${this.url}: ${this.#failures} attempts in a row failed (last: ${code} ${reason}); gave up after maxRetries (${this.#opts.maxRetries})`));
      return;
    }
    this.#emitClose(code, reason, true);
    this.#setState("reconnecting");
    const delay = this.#delay();
    this.#timer = setTimeout(() => {
      if (this.#state !== "reconnecting") return;
      if (this.#offline) return; // "online" makes the next attempt
      this.#connect();
    }, delay);
  }

  /** The next delay: doubling from minDelay up to maxDelay, between half and all of it. */
  #delay(): number {
    const { minDelay, maxDelay } = this.#opts;
    const d = Math.min(maxDelay, minDelay * 2 ** Math.min(this.#failures - 1, 30));
    return d / 2 + Math.random() * (d / 2);
  }

  #fail(err: RoostError): void {
    this.#drop();
    this.#setState("closed");
    this.#detachGlobal();
    this.dispatchEvent(new CustomEvent("error", { detail: err }));
  }

  #drop(): void {
    this.#queue = [];
    this.#queued = 0;
    this.#rejectCalls(true, () => new RoostError("socket_closed", `call on ${this.url}: the socket closed before the answer`));
  }

  #setState(s: SocketState): void {
    if (this.#state === s) return;
    this.#state = s;
    if (s === "closed") this.#detachGlobal();
    this.dispatchEvent(new CustomEvent("state", { detail: s }));
  }

  #emitClose(code: number, reason: string, willReconnect: boolean): void {
    this.dispatchEvent(new CustomEvent<CloseDetail>("close", { detail: { code, reason, willReconnect } }));
  }

  #detachGlobal(): void {
    const g = globalThis as { removeEventListener?: EventTarget["removeEventListener"] };
    if (typeof g.removeEventListener === "function") {
      g.removeEventListener("online", this.#onOnline);
      g.removeEventListener("offline", this.#onOffline);
    }
  }
}

function detach(ws: WebSocket): void {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

function sizeOf(data: Data): number {
  if (typeof data === "string") return new TextEncoder().encode(data).length;
  if (typeof Blob !== "undefined" && data instanceof Blob) return data.size;
  return (data as ArrayBufferLike | ArrayBufferView).byteLength;
}
