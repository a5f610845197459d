/**
 * docs/grafana/samsa-dashboard.json reads only what brokers export: every PromQL expression of
 * its panels parses (Prometheus's own grammar, @prometheus-io/lezer-promql, after Grafana's
 * interval variables are put in), and every metric name it selects, and each the variables'
 * label_values() queries name, is in a running broker's GET /metrics after some traffic (produce,
 * fetch, an error, a group's commit).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { API, offsetCommitRequest } from "../../helpers/group-requests.js";
import { TestClient } from "../../helpers/kafka-client.js";
import { failOnProcessErrors } from "../../helpers/process-errors.js";
import { declaredNames, parseProm } from "../../helpers/prom-text.js";
import { batchOf } from "../../helpers/records.js";
import { fetchRequest, produceRequest } from "../../helpers/requests.js";

failOnProcessErrors();

const DASHBOARD = path.resolve(import.meta.dirname, "../../../docs/grafana/samsa-dashboard.json");
/** Grafana's built-in variables that stand where PromQL wants a duration. */
const GRAFANA_DURATIONS: Record<string, string> = {
  $__rate_interval: "5m",
  $__interval: "1m",
  $__range: "1h",
};

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;

function expressions(): { title: string; expr: string }[] {
  const all = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return all.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
}

/** The expression with Grafana's duration variables replaced, as Grafana sends it. */
function asSent(expr: string): string {
  return expr.replace(/\$__[a-z_]+/g, (v) => GRAFANA_DURATIONS[v] ?? v);
}

/** The metric names `expr` selects; throws naming the first syntax error. */
function metricNames(expr: string): string[] {
  const text = asSent(expr);
  const tree = parser.parse(text);
  const names: string[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) throw new Error(`PromQL syntax error at ${cursor.from} in: ${text}`);
    if (cursor.name === "Identifier" && cursor.node.parent?.name === "VectorSelector")
      names.push(text.slice(cursor.from, cursor.to));
  } while (cursor.next());
  return names;
}

/** The metric a variable's label_values(metric, label) query reads. */
function variableMetrics(): string[] {
  return dashboard.templating.list.flatMap((v) => {
    const query = typeof v.query === "string" ? v.query : v.query?.query;
    const m = query ? /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/.exec(query) : null;
    return m ? [m[1]] : [];
  });
}

let tb: TestBroker;
let exported: Set<string>;

beforeAll(async () => {
  tb = await startTestBroker({ "auto.create.topics.enable": false });
  const client = await TestClient.connect(tb.port);
  try {
    await client.request(19, 7, {
      topics: [{ name: "dash", numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    await client.request(0, 9, produceRequest("dash", batchOf(10, "d")));
    await client.request(0, 9, produceRequest("nowhere", batchOf(1, "x"))); // an error
    await client.request(1, 12, fetchRequest("dash", 0));
    await client.request(
      API.OFFSET_COMMIT,
      8,
      offsetCommitRequest("dash-group", { dash: [{ partition: 0, offset: 4, metadata: "" }] }),
    );
  } finally {
    client.close();
  }
  const res = await tb.broker.http?.app.inject({ method: "GET", url: "/metrics" });
  const text = res?.body ?? "";
  exported = new Set(parseProm(text).map((s) => s.name));
  // A histogram or counter declared with no sample yet still names its series.
  for (const name of declaredNames(text)) {
    exported.add(name);
    for (const suffix of ["_bucket", "_sum", "_count"]) exported.add(`${name}${suffix}`);
  }
});

afterAll(async () => {
  await tb?.stop();
});

describe("docs/grafana/samsa-dashboard.json", () => {
  it("has a Prometheus data-source variable that every panel uses", () => {
    const ds = dashboard.templating.list.find((v) => v.type === "datasource");
    expect(ds?.query).toBe("prometheus");
    expect(expressions().length).toBeGreaterThan(30);
  });

  it("parses every expression", () => {
    for (const { title, expr } of expressions()) expect(() => metricNames(expr), title).not.toThrow();
  });

  it("uses only metric names a running broker exports", () => {
    const used = new Set([...expressions().flatMap(({ expr }) => metricNames(expr)), ...variableMetrics()]);
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used].filter((name) => !exported.has(name)).sort();
    expect(missing, `not in GET /metrics: ${missing.join(", ")}`).toEqual([]);
  });
});
