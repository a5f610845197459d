/**
 * The data-directory lock (storage/dir-lock.ts): held while its owner lives, refused to anyone
 * else (this process included) with the directory and the owner's pid, taken over once the owner
 * is gone (kill -9 included), a reused pid or another boot; a refused attempt changes nothing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { currentOwner, DataDirLock, DataDirLockError, LOCK_FILE } from "../../storage/dir-lock.js";
import { type ChildBuild, compileChild } from "../helpers/compile-child.js";

/** Takes the lock of argv[2], says so, and holds it until killed. */
const CHILD = `
import { DataDirLock } from "./storage/dir-lock.js";
await DataDirLock.acquire(process.argv[2]);
process.stdout.write("locked\\n");
setInterval(() => {}, 1 << 30);
`;

let compiled: ChildBuild;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  compiled = compileChild("samsa-dir-lock-", CHILD);
});
afterAll(() => compiled.remove());
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function freshDir(): string {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-lock-"));
  return dir;
}
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a child that holds the lock of `lockDir`; resolves once it holds it. */
function holder(lockDir: string): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const child = spawn(process.execPath, [compiled.child, lockDir], {
    cwd: compiled.build,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`lock holder did not start: ${err}`)), 20_000);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("locked")) {
        clearTimeout(timer);
        resolve({ child, exited });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`lock holder exited with ${code}: ${err}`));
    });
  });
}

async function refusal(lockDir: string): Promise<DataDirLockError> {
  const err = await DataDirLock.acquire(lockDir).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataDirLockError);
  return err as DataDirLockError;
}

describe("DataDirLock", () => {
  it("refuses a second owner in the same process, naming the directory and pid, until released", async () => {
    const d = freshDir();
    const lock = await DataDirLock.acquire(d);
    const lockText = readFileSync(path.join(d, LOCK_FILE), "utf8");
    expect(JSON.parse(lockText).pid).toBe(process.pid);
    const before = readdirSync(d).sort();
    const err = await refusal(d);
    expect(err.code).toBe("DATA_DIR_LOCKED");
    expect(err.ownerPid).toBe(process.pid);
    expect(err.message).toContain(d);
    expect(err.message).toContain(`process ${process.pid}`);
    expect(err.message).not.toContain("\n");
    // The refused attempt left nothing behind and did not touch the lock.
    expect(readdirSync(d).sort()).toEqual(before);
    expect(readFileSync(path.join(d, LOCK_FILE), "utf8")).toBe(lockText);
    await lock.release();
    await lock.release();
    expect(readdirSync(d)).toEqual([]);
    const again = await DataDirLock.acquire(d);
    await again.release();
  });

  it("is held by a live process and taken over after its kill -9", async () => {
    const d = freshDir();
    const { child, exited } = await holder(d);
    const err = await refusal(d);
    expect(err.ownerPid).toBe(child.pid);
    expect(err.message).toContain(`process ${child.pid}`);
    child.kill("SIGKILL");
    await exited;
    const lock = await DataDirLock.acquire(d);
    expect(JSON.parse(readFileSync(path.join(d, LOCK_FILE), "utf8")).pid).toBe(process.pid);
    await lock.release();
    expect(readdirSync(d)).toEqual([]);
  });

  it("takes over a lock whose pid now belongs to another process or another boot", async () => {
    const d = freshDir();
    const self = await currentOwner();
    expect(self.startTime, "/proc/self/stat gives this process's start time").not.toBeNull();
    // This very pid, but started at another time: the owner died and the pid was reused.
    writeFileSync(path.join(d, LOCK_FILE), JSON.stringify({ ...self, startTime: "1" }));
    const lock = await DataDirLock.acquire(d);
    await lock.release();
    // This pid and start time, but written before a reboot.
    writeFileSync(path.join(d, LOCK_FILE), JSON.stringify({ ...self, bootId: "another-boot" }));
    const again = await DataDirLock.acquire(d);
    await again.release();
    // The same owner in this boot is alive.
    writeFileSync(path.join(d, LOCK_FILE), JSON.stringify(self));
    expect((await refusal(d)).ownerPid).toBe(process.pid);
  });

  it("refuses a lock written on another host or from another pid namespace, whatever its pid", async () => {
    const d = freshDir();
    const self = await currentOwner();
    expect(self.pidNamespace, "/proc/self/ns/pid names this pid namespace").toMatch(/^pid:\[\d+\]$/);
    // A dead pid here says nothing about a broker on another host or in another container.
    const dead = { ...self, pid: 0x3fffffff, startTime: "1" };
    for (const other of [{ host: "another-host" }, { pidNamespace: "pid:[1]" }]) {
      writeFileSync(path.join(d, LOCK_FILE), JSON.stringify({ ...dead, ...other }));
      expect((await refusal(d)).ownerPid).toBe(dead.pid);
    }
    // The same host and namespace: that dead pid's lock is stale.
    writeFileSync(path.join(d, LOCK_FILE), JSON.stringify(dead));
    await (await DataDirLock.acquire(d)).release();
  });

  it("gives a stale lock to exactly one of several starters", async () => {
    const d = freshDir();
    const self = await currentOwner();
    writeFileSync(path.join(d, LOCK_FILE), JSON.stringify({ ...self, startTime: "1" }));
    const attempts = await Promise.allSettled(Array.from({ length: 8 }, () => DataDirLock.acquire(d)));
    const won = attempts.filter((a) => a.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const a of attempts) {
      if (a.status === "rejected") expect(a.reason).toBeInstanceOf(DataDirLockError);
    }
    expect(readdirSync(d)).toEqual([LOCK_FILE]);
    await (won[0] as PromiseFulfilledResult<DataDirLock>).value.release();
  });

  it("refuses an unreadable lock file without touching it", async () => {
    const d = freshDir();
    writeFileSync(path.join(d, LOCK_FILE), "not a lock");
    const err = await refusal(d);
    expect(err.message).toContain("unreadable lock file");
    expect(readdirSync(d)).toEqual([LOCK_FILE]);
    expect(readFileSync(path.join(d, LOCK_FILE), "utf8")).toBe("not a lock");
  });
});
