/**
 * The web console's files (issue 16, docs/decisions/0041): `GET /` answers console/index.html
 * and `GET /console/<path>` a file under console/ (the front end: plain ES modules, no build).
 * The console folder is found by walking up from this module to the folder holding package.json,
 * so the same code serves it from the sources (vitest) and from dist/ (the package lists
 * `console/`). Only files of the content types below are served; a path with an empty, dot-led or
 * backslashed segment, or one resolving outside console/, is 404 NOT_FOUND like a missing file.
 * The routes are hidden from the OpenAPI description (`schema.hide`).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import type { FastifyPluginAsync, FastifyReply, FastifySchema } from "fastify";
import { HttpError } from "./errors.js";
import type { HttpServer } from "./server.js";

/** The content types served, by file extension; other files are not served. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** The longest file path asked for under /console/. */
const MAX_CONSOLE_PATH = 200;

/**
 * The console's pages may load only its own files and talk only to this origin (WebSockets
 * included); no page may frame it.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The folder holding package.json above `from` (the package root), or null. */
export function packageRoot(from: string): string | null {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}

/** The absolute path of `relative` inside `root`, or null when it is not a servable file name. */
export function consoleFile(root: string, relative: string): string | null {
  const segments = relative.split("/");
  if (segments.some((s) => s === "" || s.startsWith(".") || s.includes("\\") || s.includes("\0")))
    return null;
  if (!(path.extname(relative) in CONTENT_TYPES)) return null;
  const full = path.resolve(root, ...segments);
  return full.startsWith(root + path.sep) ? full : null;
}

async function sendFile(reply: FastifyReply, file: string | null, relative: string): Promise<FastifyReply> {
  const missing = () => HttpError.http("NOT_FOUND", `no console file ${relative}`);
  if (file === null) throw missing();
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    throw missing();
  }
  return reply
    .header("content-type", CONTENT_TYPES[path.extname(file)])
    .header("cache-control", "no-cache")
    .header("x-content-type-options", "nosniff")
    .header("content-security-policy", CONTENT_SECURITY_POLICY)
    .send(body);
}

const FILE_PARAMS = {
  type: "object",
  required: ["*"],
  properties: { "*": { type: "string", maxLength: MAX_CONSOLE_PATH } },
} as const;

/** `hide`: left out of the OpenAPI description (@fastify/swagger reads it; fastify ignores it). */
const INDEX_SCHEMA: FastifySchema & { hide: true } = { hide: true };
const FILE_SCHEMA: FastifySchema & { hide: true } = { hide: true, params: FILE_PARAMS };

export const consoleRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app) => {
  const pkg = packageRoot(import.meta.dirname);
  const root = pkg === null ? null : path.join(pkg, "console");

  app.get("/", { schema: INDEX_SCHEMA }, async (_request, reply) =>
    sendFile(reply, root && consoleFile(root, "index.html"), "index.html"),
  );

  app.get<{ Params: { "*": string } }>("/console/*", { schema: FILE_SCHEMA }, async (request, reply) => {
    const relative = request.params["*"];
    return sendFile(reply, root && consoleFile(root, relative), relative);
  });
};
