import { RoostError } from "./errors.js";
/** The final states: the instance never runs again by itself. */
export const FINAL_STATES = new Set(["complete", "errored", "terminated"]);
/** A workflow defined on the server: `P` is its params' type, `O` its output's. */
export class Workflow {
    #client;
    /** The workflow's base URL (…/workflows/{name}). */
    url;
    constructor(client, url) {
        this.#client = client;
        this.url = url;
    }
    /**
     * Creates an instance with params; with `id`, creating it again is a no-op
     * that answers the existing instance (`created` false).
     */
    async create(params, options = {}) {
        const body = { params };
        if (options.id !== undefined)
            body.id = options.id;
        const resp = await this.#client.request(`${this.url}/instances`, {
            method: "POST",
            body: JSON.stringify(body),
            headers: { "Content-Type": "application/json" },
            signal: options.signal,
        });
        const st = (await resp.json());
        return Object.assign(this.instance(st.id), { created: resp.status === 201 });
    }
    /** The instance `id` (nothing is sent). */
    instance(id) {
        return new WorkflowInstance(this.#client, `${this.url}/instances/${encodeURIComponent(id)}`, id);
    }
    /** A page of instances by ID (at most `limit`, default 100); pass the page's `cursor` for the next. */
    list(options = {}) {
        const q = new URLSearchParams();
        if (options.status)
            q.set("status", options.status);
        if (options.cursor)
            q.set("cursor", options.cursor);
        if (options.limit)
            q.set("limit", String(options.limit));
        const qs = q.size ? `?${q}` : "";
        return this.#client.json("GET", `${this.url}/instances${qs}`, undefined, options);
    }
}
/** One instance of a workflow. */
export class WorkflowInstance {
    #client;
    #url;
    /** The instance's ID. */
    id;
    constructor(client, url, id) {
        this.#client = client;
        this.#url = url;
        this.id = id;
    }
    /** Its status now. */
    status(options = {}) {
        return this.#client.json("GET", this.#url, undefined, options);
    }
    /**
     * Waits until the instance reaches a final state (complete, errored,
     * terminated) and returns that status, asking the server to hold each
     * request up to 30 s. `timeout` (ms) bounds the whole wait: past it, a
     * `timeout` RoostError. An errored instance is returned, not thrown:
     * look at its `status` and `error`.
     */
    async wait(options = {}) {
        const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout;
        for (;;) {
            const left = deadline - Date.now();
            if (left <= 0)
                throw new RoostError("timeout", `instance ${this.id} did not finish within ${options.timeout} ms`);
            const hold = Math.max(1, Math.min(30, Math.floor(left / 1000)));
            const st = await this.#client.json("GET", `${this.#url}?wait=${hold}s`, undefined, options);
            if (FINAL_STATES.has(st.status))
                return st;
            if (left < 1000)
                await new Promise((r) => setTimeout(r, left));
        }
    }
    /** Sends the instance the event `type` with payload (JSON). */
    async sendEvent(type, payload = null, options = {}) {
        await this.#client.request(`${this.#url}/events/${encodeURIComponent(type)}`, {
            method: "POST",
            body: JSON.stringify(payload),
            headers: { "Content-Type": "application/json" },
            signal: options.signal,
        });
    }
    /** Pauses it. */
    pause(options = {}) {
        return this.#control("pause", options);
    }
    /** Resumes a paused instance. */
    resume(options = {}) {
        return this.#control("resume", options);
    }
    /** Terminates it: it never runs again. */
    terminate(options = {}) {
        return this.#control("terminate", options);
    }
    /** Runs it again from the start, with the same params. */
    restart(options = {}) {
        return this.#control("restart", options);
    }
    #control(op, options) {
        return this.#client.json("POST", `${this.#url}/${op}`, undefined, options);
    }
}
