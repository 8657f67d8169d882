import { RoostError, errorFrom, networkError } from "./errors.js";
import { RoostSocket } from "./socket.js";
import { Workflow } from "./workflows.js";
/**
 * A client of one Roost server (or of any node of a cluster). `M` is the
 * map of the classes' RPC methods that `roost gen ts` writes
 * (`RoostMethods`): with it, `call` checks method names, requests and
 * responses at compile time.
 *
 * ```ts
 * const roost = new RoostClient<RoostMethods>("http://127.0.0.1:8080");
 * const { value } = await roost.object("counter", "visits").call("add", { by: 1 });
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class RoostClient {
    /** The server's base URL, without a trailing slash. */
    baseURL;
    #fetch;
    #headers;
    #WebSocket;
    constructor(baseURL, options = {}) {
        this.baseURL = String(baseURL).replace(/\/+$/, "");
        const f = options.fetch ?? globalThis.fetch;
        if (typeof f !== "function")
            throw new TypeError("RoostClient: no fetch: pass options.fetch");
        this.#fetch = f.bind(globalThis);
        this.#headers = { ...options.headers };
        this.#WebSocket = options.WebSocket;
    }
    /** The object of class `cls` named `name` (its ID derives from the name). */
    object(cls, name) {
        return new RoostObject(this, `${this.baseURL}/${segment(cls)}/${segment(name)}`);
    }
    /** The object of class `cls` with the hex ID `id`. */
    objectById(cls, id) {
        if (!/^[0-9a-f]{64}$/.test(id))
            throw new RoostError("invalid_id", `object ID ${JSON.stringify(id)}: want 64 lowercase hex characters`, 400);
        return new RoostObject(this, `${this.baseURL}/${segment(cls)}/id/${id}`);
    }
    /** The workflow `name`: `P` is its params' type, `O` its output's. */
    workflow(name) {
        return new Workflow(this, `${this.baseURL}/workflows/${segment(name)}`);
    }
    /**
     * Sends a request with the client's headers and returns the response,
     * whatever its status. A request that got no answer throws a
     * {@link RoostError} (`network_error`, `timeout` or `canceled`).
     */
    async send(url, init = {}) {
        const headers = new Headers(init.headers);
        for (const [k, v] of Object.entries(this.#headers))
            if (!headers.has(k))
                headers.set(k, v);
        try {
            return await this.#fetch(url, { ...init, headers });
        }
        catch (err) {
            throw networkError(err, url);
        }
    }
    /**
     * Sends a request (see {@link send}) and returns the response if it is a
     * success (2xx); otherwise throws its {@link RoostError}.
     */
    async request(url, init = {}) {
        const resp = await this.send(url, init);
        if (!resp.ok)
            throw await errorFrom(resp);
        return resp;
    }
    /** Sends a JSON request and returns the JSON answer. */
    async json(method, url, body, options = {}) {
        const init = { method, signal: options.signal };
        if (body !== undefined) {
            init.body = JSON.stringify(body);
            init.headers = { "Content-Type": "application/json" };
        }
        const resp = await this.request(url, init);
        const text = await resp.text();
        try {
            return JSON.parse(text);
        }
        catch (err) {
            throw new RoostError("bad_response", `${method} ${url}: the answer is not JSON: ${text.slice(0, 200)}`, resp.status, { cause: err });
        }
    }
    /** Opens a socket to url (http or https; see {@link RoostSocket}). */
    socket(url, options = {}) {
        return new RoostSocket(url.replace(/^http/, "ws"), { WebSocket: this.#WebSocket, ...options });
    }
}
/**
 * One object: its HTTP routes, its RPC methods (typed by `Methods`, the
 * class's entry of `RoostMethods`) and its WebSockets.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class RoostObject {
    #client;
    /** The object's base URL: its routes are under it. */
    url;
    constructor(client, url) {
        this.#client = client;
        this.url = url;
    }
    /**
     * Sends an HTTP request to the object's route `path` ("/" by default) and
     * returns the response, whatever its status: the object's own routes
     * decide what a status means.
     */
    fetch(path = "/", init = {}) {
        return this.#client.send(this.url + normalize(path), init);
    }
    /**
     * Calls the RPC method `method` with `request` (POST …/rpc/{method}) and
     * returns its response. A failed call throws a {@link RoostError} with the
     * code the method failed with, as a Go caller sees it.
     */
    call(method, request, options = {}) {
        return this.#client.json(`POST`, `${this.url}/rpc/${segment(method)}`, request ?? null, options);
    }
    /** Opens a socket to the object's route `path` ("/" by default) that reconnects by itself. */
    socket(path = "/", options = {}) {
        return this.#client.socket(this.url + normalize(path), options);
    }
}
/** One path segment, percent-encoded (a name may hold "/"). */
function segment(s) {
    if (s === "")
        throw new RoostError("bad_request", "an empty class, name or method", 400);
    return encodeURIComponent(s);
}
function normalize(path) {
    return path.startsWith("/") ? path : "/" + path;
}
