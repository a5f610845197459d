/**
 * `samsa completion bash|zsh|fish`: the scripts the bin prints, sourced in a real bash (and zsh,
 * and fish) whose completion function is driven as the shell drives it on TAB (COMP_WORDS/COMP_CWORD
 * in bash; words/CURRENT/PREFIX in zsh, with _describe and _files standing in for the completion
 * system's; fish's own `complete -C`), and a made-up program, which completes with no change to the
 * generator.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bashScript } from "../../cli/commands/completion.js";
import { runSamsa } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(tmpdir(), "samsa-completion-"));
const bashFile = path.join(dir, "samsa.bash");
const zshFile = path.join(dir, "samsa.zsh");
const fishFile = path.join(dir, "samsa.fish");

beforeAll(async () => {
  for (const shell of ["bash", "zsh", "fish"]) {
    if (spawnSync(shell, ["-c", "true"]).error)
      throw new Error(`${shell} is missing: apt-get install -y ${shell} (.ci/run does)`);
  }
  const [bash, zsh, fish] = await Promise.all([
    runSamsa(["completion", "bash"], { brokers: null }),
    runSamsa(["completion", "zsh"], { brokers: null }),
    runSamsa(["completion", "fish"], { brokers: null }),
  ]);
  for (const r of [bash, zsh, fish]) expect(r.status, r.stderr).toBe(0);
  writeFileSync(bashFile, bash.stdout);
  writeFileSync(zshFile, zsh.stdout);
  writeFileSync(fishFile, fish.stdout);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What bash offers for the words typed (the last is the word under the cursor), from `script`. */
function bashComplete(script: string, typed: string[], command = "samsa"): string[] {
  const driver = `
source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
COMPREPLY=()
_${command}
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  const out = execFileSync("bash", ["--norc", "--noprofile", "-c", driver, "driver", script, ...typed], {
    cwd: dir,
    encoding: "utf8",
  });
  return out.split("\n").filter((line) => line !== "");
}

/** What zsh's _samsa hands _describe (names before the `:description`), or FILES for _files. */
function zshComplete(typed: string[]): string[] {
  const driver = `
source "$1"
shift
_describe() { local name=\${@[-1]}; print -rl -- "\${(@P)name}"; }
_files() { print -r -- FILES; }
words=("$@")
CURRENT=\${#words}
PREFIX=\${words[-1]}
_samsa
`;
  const out = execFileSync("zsh", ["-f", "-c", driver, "driver", zshFile, ...typed], {
    cwd: dir,
    encoding: "utf8",
  });
  return out
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.replace(/(?<!\\):.*$/, ""));
}

describe("samsa completion bash", () => {
  it("completes a command from its first letters: samsa clu<TAB> -> cluster", () => {
    expect(bashComplete(bashFile, ["samsa", "clu"])).toEqual(["cluster"]);
  });

  it("lists a command's subcommands: samsa cluster <TAB> has health, info, up, elect-leaders", () => {
    const offered = bashComplete(bashFile, ["samsa", "cluster", ""]);
    expect(offered).toEqual(expect.arrayContaining(["health", "info", "up", "elect-leaders"]));
    expect(offered).not.toContain("topic");
  });

  it("walks past global options and their values: samsa -b host:9092 cluster he<TAB>", () => {
    expect(bashComplete(bashFile, ["samsa", "-b", "localhost:9092", "cluster", "he"])).toEqual([
      "health",
      "help",
    ]);
    // As bash splits the words typed at the colons of COMP_WORDBREAKS.
    expect(bashComplete(bashFile, ["samsa", "-b", "localhost", ":", "9092", "cluster", "he"])).toEqual([
      "health",
      "help",
    ]);
  });

  it("offers a command's own options and the global ones after a dash, each once", () => {
    const offered = bashComplete(bashFile, ["samsa", "cluster", "health", "--"]);
    expect(offered).toEqual(
      expect.arrayContaining(["--exit-when-healthy", "--watch", "--json", "--timeout-ms", "--brokers"]),
    );
    expect(offered.filter((o) => o === "--help")).toHaveLength(1);
    expect(offered).not.toContain("--version");
  });

  it("completes what commander's help command explains: samsa help clu<TAB>, samsa cluster help h<TAB>", () => {
    expect(bashComplete(bashFile, ["samsa", "help", "clu"])).toEqual(["cluster"]);
    expect(bashComplete(bashFile, ["samsa", "cluster", "help", "he"])).toEqual(["health"]);
  });

  it("follows an alias: samsa topic ls <TAB> is topic list, which has no subcommands", () => {
    expect(bashComplete(bashFile, ["samsa", "topic", "ls", ""])).toEqual([]);
    const options = bashComplete(bashFile, ["samsa", "topic", "rm", "-"]);
    expect(options).toEqual(expect.arrayContaining(["--help", "--brokers"]));
    expect(options).not.toContain("--version");
  });

  it("completes an option's value as a file name, not as a command", () => {
    writeFileSync(path.join(dir, "ca.pem"), "");
    expect(bashComplete(bashFile, ["samsa", "--tls-ca", "ca."])).toEqual(["ca.pem"]);
    expect(bashComplete(bashFile, ["samsa", "cluster", "health", "--timeout-ms", "clu"])).toEqual([]);
  });

  it("completes a command added to a program with no change to the generator", () => {
    const program = new Command("demo").option("-x, --extra <v>", "a global option");
    const things = program.command("things").description("things");
    things.command("frobnicate").description("frob").option("--hard", "harder");
    const script = path.join(dir, "demo.bash");
    writeFileSync(script, bashScript(program));
    expect(bashComplete(script, ["demo", "thi"], "demo")).toEqual(["things"]);
    expect(bashComplete(script, ["demo", "-x", "1", "things", "f"], "demo")).toEqual(["frobnicate"]);
    expect(bashComplete(script, ["demo", "things", "frobnicate", "--h"], "demo")).toEqual([
      "--hard",
      "--help",
    ]);
  });
});

describe("samsa completion zsh", () => {
  it("parses (zsh -n)", () => {
    const r = spawnSync("zsh", ["-n", zshFile], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("offers commands, subcommands with their descriptions, options and file names", () => {
    expect(zshComplete(["samsa", "clu"])).toContain("cluster");
    expect(zshComplete(["samsa", "cluster", ""])).toEqual(expect.arrayContaining(["health", "info", "up"]));
    expect(zshComplete(["samsa", "-b", "h:1", "cluster", "health", "--"])).toEqual(
      expect.arrayContaining(["--exit-when-healthy", "-J", "--brokers"]),
    );
    expect(zshComplete(["samsa", "cluster", "health", "--timeout-ms", ""])).toEqual(["FILES"]);
  });
});

/** What fish offers for the command line typed so far (`complete -C`), the words before each tab. */
function fishComplete(line: string): string[] {
  const out = execFileSync(
    "fish",
    ["--no-config", "-c", "source $argv[1]; complete -C $argv[2]", fishFile, line],
    {
      cwd: dir,
      encoding: "utf8",
    },
  );
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\t")[0]);
}

describe("samsa completion fish", () => {
  it("parses (fish -n)", () => {
    const r = spawnSync("fish", ["--no-config", "-n", fishFile], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("offers commands with descriptions, walks past global options and aliases, and names files for values", () => {
    expect(fishComplete("samsa clu")).toEqual(["cluster"]);
    const described = execFileSync(
      "fish",
      ["--no-config", "-c", 'source $argv[1]; complete -C "samsa clu"', fishFile],
      {
        encoding: "utf8",
      },
    );
    expect(described).toMatch(/^cluster\tcluster information/);
    expect(fishComplete("samsa -b localhost:9092 cluster he")).toEqual(["health", "help"]);
    expect(fishComplete("samsa help clu")).toEqual(["cluster"]);
    const options = fishComplete("samsa cluster health --");
    expect(options).toEqual(expect.arrayContaining(["--exit-when-healthy", "--watch", "--brokers"]));
    expect(options.filter((o) => o === "--help")).toHaveLength(1);
    expect(options).not.toContain("--version");
    expect(fishComplete("samsa topic rm -")).toEqual(expect.arrayContaining(["--help", "--brokers"]));
    writeFileSync(path.join(dir, "ca.pem"), "");
    expect(fishComplete("samsa --tls-ca ca.")).toEqual(["ca.pem"]);
    // A global option's value after a command: a file, and a value that names a command is no command.
    expect(fishComplete("samsa cluster health --tls-ca ca.")).toEqual(["ca.pem"]);
    expect(fishComplete("samsa cluster --user info he")).toEqual(["health", "help"]);
    expect(fishComplete("samsa cluster health --timeout-ms clu")).toEqual([]);
  });
});

describe("samsa completion", () => {
  it("refuses another shell in one line, exit 1", async () => {
    const r = await runSamsa(["completion", "tcsh"], { brokers: null });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("samsa: completion tcsh: expected one of bash, zsh, fish\n");
  });
});
