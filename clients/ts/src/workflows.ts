import type { RequestOptions, RoostClient } from "./client.js";
import { RoostError } from "./errors.js";

/** An instance's status names. The last three are final. */
export type WorkflowState = "queued" | "running" | "sleeping" | "waiting" | "paused" | "complete" | "errored" | "terminated";

/** The final states: the instance never runs again by itself. */
export const FINAL_STATES: ReadonlySet<WorkflowState> = new Set(["complete", "errored", "terminated"]);

/** An error as the workflow API reports it. */
export interface WorkflowErrorInfo {
  code: string;
  message: string;
}

/** One step of an instance, as its status lists it. */
export interface WorkflowStep {
  name: string;
  kind: string;
  state: string;
  attempts?: number;
  result?: unknown;
  error?: WorkflowErrorInfo;
  event_type?: string;
  started: string;
  ended?: string;
  until?: string;
}

/** An instance's status (GET /workflows/{name}/instances/{id}). */
export interface WorkflowStatus<P = unknown, O = unknown> {
  id: string;
  workflow: string;
  status: WorkflowState;
  params: P;
  output?: O;
  error?: WorkflowErrorInfo;
  created: string;
  updated: string;
  finished?: string;
  steps: WorkflowStep[];
}

/** An instance in a listing. */
export interface WorkflowSummary {
  id: string;
  status: WorkflowState;
  created: string;
  updated: string;
}

/** A page of instances (GET /workflows/{name}/instances); `cursor`, if set, gets the next. */
export interface WorkflowPage {
  instances: WorkflowSummary[];
  cursor?: string;
}

/** A workflow defined on the server: `P` is its params' type, `O` its output's. */
export class Workflow<P = unknown, O = unknown> {
  readonly #client: RoostClient;
  /** The workflow's base URL (…/workflows/{name}). */
  readonly url: string;

  constructor(client: RoostClient, url: string) {
    this.#client = client;
    this.url = url;
  }

  /**
   * Creates an instance with params; with `id`, creating it again is a no-op
   * that answers the existing instance (`created` false).
   */
  async create(params: P, options: RequestOptions & { id?: string } = {}): Promise<WorkflowInstance<P, O> & { created: boolean }> {
    const body: { params: P; id?: string } = { params };
    if (options.id !== undefined) body.id = options.id;
    const resp = await this.#client.request(`${this.url}/instances`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
      signal: options.signal,
    });
    const st = (await resp.json()) as WorkflowStatus<P, O>;
    return Object.assign(this.instance(st.id), { created: resp.status === 201 });
  }

  /** The instance `id` (nothing is sent). */
  instance(id: string): WorkflowInstance<P, O> {
    return new WorkflowInstance<P, O>(this.#client, `${this.url}/instances/${encodeURIComponent(id)}`, id);
  }

  /** A page of instances by ID (at most `limit`, default 100); pass the page's `cursor` for the next. */
  list(options: RequestOptions & { status?: WorkflowState; cursor?: string; limit?: number } = {}): Promise<WorkflowPage> {
    const q = new URLSearchParams();
    if (options.status) q.set("status", options.status);
    if (options.cursor) q.set("cursor", options.cursor);
    if (options.limit) q.set("limit", String(options.limit));
    const qs = q.size ? `?${q}` : "";
    return this.#client.json("GET", `${this.url}/instances${qs}`, undefined, options);
  }
}

/** One instance of a workflow. */
export class WorkflowInstance<P = unknown, O = unknown> {
  readonly #client: RoostClient;
  readonly #url: string;
  /** The instance's ID. */
  readonly id: string;

  constructor(client: RoostClient, url: string, id: string) {
    this.#client = client;
    this.#url = url;
    this.id = id;
  }

  /** Its status now. */
  status(options: RequestOptions = {}): Promise<WorkflowStatus<P, O>> {
    return this.#client.json("GET", this.#url, undefined, options);
  }

  /**
   * Waits until the instance reaches a final state (complete, errored,
   * terminated) and returns that status, asking the server to hold each
   * request up to 30 s. `timeout` (ms) bounds the whole wait: past it, a
   * `timeout` RoostError. An errored instance is returned, not thrown:
   * look at its `status` and `error`.
   */
  async wait(options: RequestOptions & { timeout?: number } = {}): Promise<WorkflowStatus<P, O>> {
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new RoostError("timeout", `instance ${this.id} did not finish within ${options.timeout} ms`);
      const hold = Math.max(1, Math.min(30, Math.floor(left / 1000)));
      const st = await this.#client.json<WorkflowStatus<P, O>>("GET", `${this.#url}?wait=${hold}s`, undefined, options);
      if (FINAL_STATES.has(st.status)) return st;
      if (left < 1000) await new Promise((r) => setTimeout(r, left));
    }
  }

  /** Sends the instance the event `type` with payload (JSON). */
  async sendEvent(type: string, payload: unknown = null, options: RequestOptions = {}): Promise<void> {
    await this.#client.request(`${this.#url}/events/${encodeURIComponent(type)}`, {
      method: "POST",
      body: JSON.stringify(payload),
      headers: { "Content-Type": "application/json" },
      signal: options.signal,
    });
  }

  /** Pauses it. */
  pause(options: RequestOptions = {}): Promise<WorkflowStatus<P, O>> {
    return this.#control("pause", options);
  }

  /** Resumes a paused instance. */
  resume(options: RequestOptions = {}): Promise<WorkflowStatus<P, O>> {
    return this.#control("resume", options);
  }

  /** Terminates it: it never runs again. */
  terminate(options: RequestOptions = {}): Promise<WorkflowStatus<P, O>> {
    return this.#control("terminate", options);
  }

  /** Runs it again from the start, with the same params. */
  restart(options: RequestOptions = {}): Promise<WorkflowStatus<P, O>> {
    return this.#control("restart", options);
  }

  #control(op: string, options: RequestOptions): Promise<WorkflowStatus<P, O>> {
    return this.#client.json("POST", `${this.#url}/${op}`, undefined, options);
  }
}
