/**
 * GET /openapi.json and GET /docs (broker/http/openapi.ts): the document has the OpenAPI 3 shape;
 * every route the server registers is either described in it with its method (and has a schema
 * of its own) or is one of the routes that are not API; the docs page is served and loads nothing
 * from another host. Also 405 with `Allow` for a wrong method on a path that exists (errors.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOT_API_ROUTES } from "../../../broker/http/openapi.js";
import type { HttpServer } from "../../../broker/http/server.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { failOnProcessErrors } from "../../helpers/process-errors.js";

failOnProcessErrors();

let tb: TestBroker;
let http: HttpServer;

interface Operation {
  responses?: Record<string, unknown>;
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}

/** fastify's `/topics/:topic` as OpenAPI's `/topics/{topic}`. */
const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

beforeAll(async () => {
  tb = await startTestBroker();
  const server = tb.broker.http;
  if (!server) throw new Error("no HTTP server");
  http = server;
});

afterAll(async () => {
  await tb?.stop();
});

describe("OpenAPI", () => {
  it("serves an OpenAPI 3 document with info, paths and the shared error schema", async () => {
    const res = await http.app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const doc = res.json() as OpenApiDocument;
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toBe("samsa HTTP API");
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Object.keys(doc.paths).length).toBeGreaterThan(10);
    expect(doc.components?.schemas?.HttpError).toBeDefined();
    for (const [path, operations] of Object.entries(doc.paths)) {
      expect(path.startsWith("/"), path).toBe(true);
      for (const [method, op] of Object.entries(operations)) {
        expect(["get", "post", "put", "delete", "patch", "head", "options"], `${method} ${path}`).toContain(
          method,
        );
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path} has responses`).toBeGreaterThan(0);
        // Every {name} of the path is a declared path parameter.
        for (const name of path.match(/\{([^}]+)\}/g) ?? []) {
          const param = name.slice(1, -1);
          expect(
            op.parameters?.some((p) => p.in === "path" && p.name === param),
            `${method} ${path} declares ${param}`,
          ).toBe(true);
        }
      }
    }
  });

  it("describes every route the server registers, except those that are not API", async () => {
    const doc = (await http.app.inject({ method: "GET", url: "/openapi.json" })).json() as OpenApiDocument;
    const api = http.routes.filter((r) => r.method !== "HEAD" && !NOT_API_ROUTES.has(r.url));
    expect(api.length).toBeGreaterThan(20);
    for (const route of api) {
      const described = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      expect(described, `${route.method} ${route.url} is in /openapi.json`).toBeDefined();
      expect(route.hasSchema, `${route.method} ${route.url} has a schema`).toBe(true);
    }
    // The REST Proxy consumer flow is among them.
    expect(doc.paths["/consumers/{group}"]?.post).toBeDefined();
    const records = doc.paths["/consumers/{group}/instances/{instance}/records"]?.get as {
      responses: Record<string, { content?: Record<string, unknown> }>;
    };
    expect(Object.keys(records.responses["200"].content ?? {})).toEqual([
      "application/vnd.kafka.json.v2+json",
      "application/vnd.kafka.binary.v2+json",
    ]);
    const create = doc.paths["/consumers/{group}"]?.post as {
      requestBody: { content: Record<string, unknown> };
    };
    expect(Object.keys(create.requestBody.content)).toContain("application/vnd.kafka.v2+json");
    // Doors that are not API are left out.
    expect(doc.paths["/kafka"]).toBeUndefined();
    expect(doc.paths["/ws/topics/{topic}"]).toBeUndefined();
    expect(doc.paths["/openapi.json"]).toBeUndefined();
  });

  it("serves a documentation page that loads nothing from another host", async () => {
    const res = await http.app.inject({ method: "GET", url: "/docs" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.body).toContain("openapi.json");
    expect(res.body).not.toMatch(/(src|href)="(https?:)?\/\//);
  });
});

describe("405 for a wrong method", () => {
  it("answers 405 with Allow on a path that exists, 404 on one that does not", async () => {
    const wrong = await http.app.inject({ method: "POST", url: "/health", payload: {} });
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers.allow).toBe("GET, HEAD");
    expect(wrong.json()).toMatchObject({ error_code: 405 });
    expect((wrong.json() as { message: string }).message).toContain("POST");

    const topic = await http.app.inject({ method: "PUT", url: "/topics/some-topic" });
    expect(topic.statusCode).toBe(405);
    expect(topic.headers.allow).toBe("DELETE, GET, HEAD, POST");

    const unknown = await http.app.inject({ method: "GET", url: "/no/such/path" });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error_code: "NOT_FOUND" });
  });
});
