/**
 * An error from Roost, or from the client on Roost's behalf. `code` is
 * Roost's stable error code (`unknown_method`, `bad_request`, `not_owner`,
 * …; see the server's README), or one of the client's own:
 * `network_error` (no answer), `bad_response` (an answer that is not
 * Roost's), `buffer_full`, `reconnect_failed`, `socket_closed`, `timeout`.
 */
export class RoostError extends Error {
    /** Roost's error code. */
    code;
    /** The HTTP status, or 0 when there was no HTTP answer. */
    status;
    constructor(code, message, status = 0, options) {
        super(message, options);
        this.name = "RoostError";
        this.code = code;
        this.status = status;
    }
    /** Whether the request may be retried as it is: the server was busy, or the object was moving. */
    get retryable() {
        return this.status === 503 || this.code === "network_error";
    }
}
/** Reads a failed response's body into a RoostError. */
export async function errorFrom(resp) {
    const header = resp.headers.get("Roost-Error-Code") ?? "";
    let text = "";
    try {
        text = await resp.text();
    }
    catch {
        // the body is lost; the status and header still say what happened
    }
    try {
        const body = JSON.parse(text);
        if (body.error && typeof body.error.code === "string") {
            return new RoostError(body.error.code, String(body.error.message ?? ""), resp.status);
        }
    }
    catch {
        // not JSON: not Roost's error shape
    }
    const code = header || `http_${resp.status}`;
    return new RoostError(code, `${resp.status} ${resp.statusText}: ${text.slice(0, 200)}`, resp.status);
}
/** Wraps a failure of fetch itself (no HTTP answer). */
export function networkError(err, url) {
    if (err instanceof RoostError)
        return err;
    if (err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError")) {
        return new RoostError(err.name === "TimeoutError" ? "timeout" : "canceled", `${url}: ${err.message}`, 0, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new RoostError("network_error", `${url}: ${message}`, 0, { cause: err });
}
