// @ts-check
/**
 * The console's one door to the broker: `api(method, path, body?)` sends a same-origin request
 * to the broker's HTTP routes and answers the parsed JSON, or throws an ApiError carrying the
 * status and the route's `error_code` (broker/http/errors.ts). The browser adds HTTP Basic
 * credentials itself once the user has logged in at the prompt (authentication on).
 */

/** An error answered by the broker (`status` >= 400) or a request that never got an answer (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status, 0 when the request failed before an answer
   * @param {string} code the body's error_code (e.g. TOPIC_ALREADY_EXISTS), or NETWORK_ERROR
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/**
 * Sends `method path` with `body` as JSON, if any.
 * @param {string} method GET, POST, PUT, PATCH or DELETE
 * @param {string} path an absolute path of the HTTP port, e.g. `/topics`; callers encode segments
 * @param {unknown} [body]
 * @returns {Promise<any>} the parsed JSON answer (null for an empty one)
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  /** @type {RequestInit} */
  const init = { method, credentials: "same-origin", headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "NETWORK_ERROR", `the broker did not answer: ${String(err)}`);
  }
  const text = await response.text();
  const parsed = parseJson(text);
  if (!response.ok) {
    const code = typeof parsed?.error_code === "string" ? parsed.error_code : `HTTP_${response.status}`;
    const message = typeof parsed?.message === "string" ? parsed.message : response.statusText;
    throw new ApiError(response.status, code, message);
  }
  return parsed;
}

/**
 * @param {string} text
 * @returns {any}
 */
function parseJson(text) {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * A path segment (topic or group name) encoded for a route's path.
 * @param {string} segment
 */
export function seg(segment) {
  return encodeURIComponent(segment);
}
