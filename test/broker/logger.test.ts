/**
 * The broker logger's two forms: JSON lines when its output is not a terminal (or log.format=json)
 * and readable lines on a terminal (or log.format=pretty), with colours only on a terminal.
 */
import { describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../broker/config.js";
import { createLogger, formatLine } from "../../broker/logger.js";

function capture(isTTY: boolean) {
  const lines: string[] = [];
  return { isTTY, lines, write: (text: string) => lines.push(text) };
}

describe("createLogger", () => {
  it("auto: JSON lines when the output is not a terminal", () => {
    const out = capture(false);
    createLogger("info", "auto", out).info({ topic: "t", partitions: 3 }, "topic created");
    expect(out.lines).toHaveLength(1);
    expect(JSON.parse(out.lines[0])).toMatchObject({
      level: 30,
      msg: "topic created",
      topic: "t",
      partitions: 3,
    });
  });

  it("auto: readable, coloured lines on a terminal", () => {
    const out = capture(true);
    createLogger("info", "auto", out).info({ topic: "t", partitions: 3 }, "topic created");
    expect(out.lines).toHaveLength(1);
    // The escape character written as ESC, so the pattern holds no control character.
    expect(out.lines[0].replaceAll("\x1b", "ESC")).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} ESC\[32mINFO ESC\[0m topic created topic=t partitions=3\n$/,
    );
  });

  it("json and pretty force either form; the level still filters", () => {
    const tty = capture(true);
    const json = createLogger("info", "json", tty);
    json.debug("hidden");
    json.warn("shown");
    expect(tty.lines.map((l) => JSON.parse(l).msg)).toEqual(["shown"]);

    const pipe = capture(false);
    createLogger("debug", "pretty", pipe).debug({ peer: "127.0.0.1:5" }, "connection opened");
    expect(pipe.lines).toEqual([
      expect.stringMatching(/^\S+ DEBUG connection opened peer=127\.0\.0\.1:5\n$/),
    ]);
  });
});

describe("formatLine", () => {
  it("quotes values with spaces and objects as JSON, drops pid/hostname/service, indents a stack", () => {
    const line = JSON.stringify({
      level: 50,
      time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
      pid: 1,
      hostname: "h",
      service: "samsa",
      msg: "append failed",
      topic: "a b",
      configs: { "retention.ms": "1000" },
      err: { message: "disk full", stack: "Error: disk full\n    at x" },
    });
    const text = formatLine(line);
    const [first, ...stack] = text.trimEnd().split("\n");
    expect(first).toMatch(
      /^\d\d:\d\d:05\.006 ERROR append failed topic="a b" configs=\{"retention.ms":"1000"\} err="disk full"$/,
    );
    expect(stack).toEqual(["    Error: disk full", "        at x"]);
  });

  it("passes a line that is not JSON through unchanged", () => {
    expect(formatLine("plain text\n")).toBe("plain text\n");
  });
});

describe("log.format config", () => {
  it("takes auto, json or pretty from flags or SAMSA_LOG_FORMAT; anything else is INVALID_CONFIG", () => {
    expect(loadBrokerConfig({}).logFormat).toBe("auto");
    expect(loadBrokerConfig({ env: { SAMSA_LOG_FORMAT: "json" } }).logFormat).toBe("json");
    expect(loadBrokerConfig({ flags: { "log.format": "pretty" } }).logFormat).toBe("pretty");
    expect(() => loadBrokerConfig({ flags: { "log.format": "xml" } })).toThrow(
      /INVALID_CONFIG.*log.format=xml/,
    );
  });
});
