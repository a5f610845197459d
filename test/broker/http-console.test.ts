/**
 * The console's JSON routes (issue 16): GET /cluster (broker/http/overview.ts), topic configs and
 * added partitions (broker/http/topic-admin.ts), and a group's offset reset with a dry run
 * (broker/http/group-offsets.ts), against one in-process broker with records and a group made by
 * the samsa client. Checked exactly against what was produced and committed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpServer } from "../../broker/http/server.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { groupThatRead, produceTo } from "../helpers/console-data.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";

failOnProcessErrors();

let tb: TestBroker;
let brokers: string[];

type Reply = { statusCode: number; body: string; json: () => unknown };

function http(): HttpServer {
  const server = tb.broker.http;
  if (!server) throw new Error("the broker has no HTTP server");
  return server;
}

async function call(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  url: string,
  payload?: unknown,
): Promise<Reply> {
  return http().app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
}

async function ok<T>(method: "GET" | "POST" | "PATCH", url: string, payload?: unknown): Promise<T> {
  const res = await call(method, url, payload);
  expect(res.statusCode, res.body).toBeLessThan(300);
  return res.json() as T;
}

function expectError(res: Reply, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect((res.json() as { error_code: string }).error_code).toBe(code);
}

beforeAll(async () => {
  tb = await startTestBroker({ "num.partitions": 1 });
  brokers = [`127.0.0.1:${tb.port}`];
  await ok("POST", "/topics", { name: "orders", partitions: 2 });
  await produceTo(brokers, "orders", [0, 1], 10);
}, 30_000);

afterAll(async () => {
  await tb?.stop();
});

interface ClusterView {
  controller_id: number;
  brokers: {
    node_id: number;
    up: boolean;
    controller: boolean;
    partitions_led: number;
    endpoints: unknown[];
  }[];
  health: { healthy: boolean; offline_partitions: number; under_replicated_partitions: number };
  topics: {
    name: string;
    partitions: number;
    records: number;
    log_end_offset_total: number;
    size_bytes: number | null;
    complete: boolean;
  }[];
}

describe("GET /cluster", () => {
  it("shows the broker up, leading every partition, as controller, and each topic's records and size", async () => {
    const view = await ok<ClusterView>("GET", "/cluster");
    expect(view.controller_id).toBe(1);
    const [b] = view.brokers;
    expect(view.brokers).toHaveLength(1);
    expect(b).toMatchObject({ node_id: 1, up: true, controller: true });
    const partitions = view.topics.reduce((sum, t) => sum + t.partitions, 0);
    expect(b.partitions_led).toBe(partitions);
    expect(b.endpoints.length).toBeGreaterThan(0);
    expect(view.health).toMatchObject({
      healthy: true,
      offline_partitions: 0,
      under_replicated_partitions: 0,
    });
    const orders = view.topics.find((t) => t.name === "orders");
    expect(orders).toMatchObject({ partitions: 2, records: 20, log_end_offset_total: 20, complete: true });
    expect(orders?.size_bytes).toBeGreaterThan(0);
  });

  it("refuses query parameters", async () => {
    expectError(await call("GET", "/cluster?x=1"), 400, "BAD_REQUEST");
  });
});

interface Configs {
  configs: { name: string; value: string | null; source: string; default: boolean; type: string }[];
}

describe("topic configs and partitions", () => {
  const retention = (c: Configs) => c.configs.find((e) => e.name === "retention.ms");

  it("describes every config with its source, sets one and resets it to the default", async () => {
    await ok("POST", "/topics", { name: "conf", partitions: 1 });
    const before = await ok<Configs>("GET", "/topics/conf/configs");
    expect(before.configs.length).toBeGreaterThan(20);
    expect(retention(before)).toMatchObject({ value: "604800000", default: true, type: "LONG" });
    expect(retention(before)?.source).not.toBe("DYNAMIC_TOPIC_CONFIG");

    const set = await ok<Configs>("PATCH", "/topics/conf/configs", { set: { "retention.ms": "60000" } });
    expect(retention(set)).toMatchObject({ value: "60000", source: "DYNAMIC_TOPIC_CONFIG", default: false });
    const topic = await ok<{ configs: Record<string, string> }>("GET", "/topics/conf");
    expect(topic.configs["retention.ms"]).toBe("60000");

    const reset = await ok<Configs>("PATCH", "/topics/conf/configs", { reset: ["retention.ms"] });
    expect(retention(reset)).toMatchObject({ value: "604800000", default: true });
  });

  it("refuses unknown keys, bad values, empty changes and unknown topics", async () => {
    expectError(
      await call("PATCH", "/topics/conf/configs", { set: { "no.such.key": "1" } }),
      422,
      "INVALID_CONFIG",
    );
    expectError(
      await call("PATCH", "/topics/conf/configs", { set: { "retention.ms": "soon" } }),
      422,
      "INVALID_CONFIG",
    );
    expectError(await call("PATCH", "/topics/conf/configs", {}), 400, "BAD_REQUEST");
    expectError(await call("PATCH", "/topics/conf/configs", { set: {} }), 400, "BAD_REQUEST");
    expectError(await call("GET", "/topics/nope/configs"), 404, "UNKNOWN_TOPIC_OR_PARTITION");
    expectError(
      await call("PATCH", "/topics/nope/configs", { set: { "retention.ms": "1" } }),
      404,
      "UNKNOWN_TOPIC_OR_PARTITION",
    );
  });

  it("adds partitions up to a new total, and refuses fewer or as many", async () => {
    await ok("POST", "/topics", { name: "grow", partitions: 1 });
    expect(await ok("POST", "/topics/grow/partitions", { count: 3 })).toEqual({
      topic: "grow",
      partitions_count: 3,
    });
    const topic = await ok<{ partitions: { partition: number }[] }>("GET", "/topics/grow");
    expect(topic.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    expectError(await call("POST", "/topics/grow/partitions", { count: 3 }), 422, "INVALID_PARTITIONS");
    expectError(await call("POST", "/topics/grow/partitions", { count: 2 }), 422, "INVALID_PARTITIONS");
    expectError(await call("POST", "/topics/grow/partitions", { count: 0 }), 400, "BAD_REQUEST");
    expectError(
      await call("POST", "/topics/nope/partitions", { count: 5 }),
      404,
      "UNKNOWN_TOPIC_OR_PARTITION",
    );
  });
});

interface ResetView {
  state: string;
  dry_run: boolean;
  partitions: {
    topic: string;
    partition: number;
    current_offset: number | null;
    new_offset: number;
    log_end_offset: number;
  }[];
}

interface GroupView {
  state: string;
  offsets: { partition: number; committed_offset: number; lag: number }[];
  total_lag: number;
}

describe("POST /groups/{group}/offsets/reset", () => {
  const news = (r: ResetView) => r.partitions.map((p) => [p.partition, p.current_offset, p.new_offset]);

  beforeAll(async () => {
    const group = await groupThatRead(brokers, "readers", "orders", 20);
    await group.close();
  }, 30_000);

  it("previews without committing, then commits the new offsets", async () => {
    const preview = await ok<ResetView>("POST", "/groups/readers/offsets/reset", {
      to: "earliest",
      dry_run: true,
    });
    expect(preview.dry_run).toBe(true);
    expect(preview.state).toBe("Empty");
    expect(news(preview)).toEqual([
      [0, 10, 0],
      [1, 10, 0],
    ]);
    expect((await ok<GroupView>("GET", "/groups/readers")).total_lag).toBe(0);

    const done = await ok<ResetView>("POST", "/groups/readers/offsets/reset", {
      to: "earliest",
      dry_run: false,
    });
    expect(news(done)).toEqual(news(preview));
    const group = await ok<GroupView>("GET", "/groups/readers");
    expect(group.offsets.map((o) => [o.partition, o.committed_offset, o.lag])).toEqual([
      [0, 0, 10],
      [1, 0, 10],
    ]);
    expect(group.total_lag).toBe(20);
  });

  it("resets to the latest offset, an offset held inside the log, and a timestamp", async () => {
    const latest = await ok<ResetView>("POST", "/groups/readers/offsets/reset", {
      to: "latest",
      dry_run: false,
    });
    expect(latest.partitions.map((p) => p.new_offset)).toEqual([10, 10]);
    const offset = await ok<ResetView>("POST", "/groups/readers/offsets/reset", {
      to: "offset",
      offset: 4,
      topic: "orders",
      dry_run: false,
    });
    expect(news(offset)).toEqual([
      [0, 10, 4],
      [1, 10, 4],
    ]);
    const beyond = await ok<ResetView>("POST", "/groups/readers/offsets/reset", {
      to: "offset",
      offset: 999,
      dry_run: true,
    });
    expect(beyond.partitions.map((p) => p.new_offset)).toEqual([10, 10]);
    const past = await ok<ResetView>("POST", "/groups/readers/offsets/reset", {
      to: "timestamp",
      timestamp: 0,
      dry_run: true,
    });
    expect(past.partitions.map((p) => p.new_offset)).toEqual([0, 0]);
    const future = Date.now() + 3_600_000;
    const later = await ok<ResetView>("POST", "/groups/readers/offsets/reset", {
      to: "timestamp",
      timestamp: future,
      dry_run: true,
    });
    expect(later.partitions.map((p) => p.new_offset)).toEqual([10, 10]);
  });

  it("names one topic's partitions, even those without a committed offset", async () => {
    await ok("POST", "/topics", { name: "fresh", partitions: 2 });
    const r = await ok<ResetView>("POST", "/groups/readers/offsets/reset", {
      to: "earliest",
      topic: "fresh",
      dry_run: true,
    });
    expect(r.partitions.map((p) => [p.topic, p.partition, p.current_offset])).toEqual([
      ["fresh", 0, null],
      ["fresh", 1, null],
    ]);
  });

  it("refuses a group with members (409 NON_EMPTY_GROUP) and changes nothing", async () => {
    await produceTo(brokers, "live", [0], 5);
    const member = await groupThatRead(brokers, "busy", "live", 5);
    try {
      const res = await call("POST", "/groups/busy/offsets/reset", { to: "earliest", dry_run: false });
      expectError(res, 409, "NON_EMPTY_GROUP");
      expect((res.json() as { message: string }).message).toContain("stop its consumers");
      expectError(
        await call("POST", "/groups/busy/offsets/reset", { to: "earliest", dry_run: true }),
        409,
        "NON_EMPTY_GROUP",
      );
    } finally {
      await member.close();
    }
    const group = await ok<GroupView>("GET", "/groups/busy");
    expect(group.offsets.map((o) => o.committed_offset)).toEqual([5]);
  });

  it("refuses bad requests with typed errors", async () => {
    const reset = (body: unknown) => call("POST", "/groups/readers/offsets/reset", body);
    expectError(await reset({ to: "timestamp", dry_run: true }), 400, "BAD_REQUEST");
    expectError(await reset({ to: "offset", dry_run: true }), 400, "BAD_REQUEST");
    expectError(await reset({ to: "somewhere", dry_run: true }), 400, "BAD_REQUEST");
    expectError(await reset({ to: "earliest" }), 400, "BAD_REQUEST");
    expectError(await reset({ to: "earliest", dry_run: true, offset: -1 }), 400, "BAD_REQUEST");
    expectError(
      await reset({ to: "earliest", dry_run: true, topic: "nope" }),
      404,
      "UNKNOWN_TOPIC_OR_PARTITION",
    );
    expectError(
      await call("POST", "/groups/ghost/offsets/reset", { to: "earliest", dry_run: true }),
      404,
      "GROUP_ID_NOT_FOUND",
    );
  });
});
