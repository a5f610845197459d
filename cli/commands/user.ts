/**
 * `samsa user create | list | delete`: SCRAM users (issue 15), as rpk's `security user` and
 * kafka-configs' `--alter --add-config SCRAM-SHA-256=[password=...]` manage them, through
 * AlterUserScramCredentials and DescribeUserScramCredentials. The password is salted and hashed
 * here (PBKDF2); only the salt and salted password cross the wire.
 */
import type { Command } from "commander";
import { withAdmin } from "./common.js";
import { table } from "./group.js";

const MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
type Mechanism = (typeof MECHANISMS)[number];

function mechanismOf(value: string | undefined): Mechanism {
  const m = (value ?? "SCRAM-SHA-256").toUpperCase();
  if (!(MECHANISMS as readonly string[]).includes(m))
    throw new Error(`--mechanism ${value}: expected SCRAM-SHA-256 or SCRAM-SHA-512`);
  return m as Mechanism;
}

function iterationsOf(value: string | undefined): number {
  if (value === undefined) return 4096;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 4096 || n > 16384)
    throw new Error(`--iterations ${value}: expected 4096 to 16384`);
  return n;
}

interface CreateFlags {
  newPassword?: string;
  mechanism?: string;
  iterations?: string;
}

export function registerUserCommands(program: Command): void {
  const user = program.command("user").description("SCRAM users for SASL: create, list, delete");

  user
    .command("create <name>")
    .description("create a user, or set a new password (one mechanism per call)")
    .option("--new-password <password>", "the user's password (prefer $SAMSA_NEW_PASSWORD: flags show in ps)")
    .option("--mechanism <name>", "SCRAM-SHA-256 (default) or SCRAM-SHA-512")
    .option("--iterations <n>", "PBKDF2 iterations, 4096 (default) to 16384")
    .addHelpText(
      "after",
      "\nExample:\n  SAMSA_NEW_PASSWORD=s3cret samsa user create alice --mechanism SCRAM-SHA-512",
    )
    .action(async (name: string, opts: CreateFlags, cmd: Command) => {
      const password = opts.newPassword ?? process.env.SAMSA_NEW_PASSWORD;
      if (password === undefined || password === "")
        throw new Error("user create needs --new-password or $SAMSA_NEW_PASSWORD");
      const mechanism = mechanismOf(opts.mechanism);
      const iterations = iterationsOf(opts.iterations);
      await withAdmin(cmd, (admin) => admin.upsertScramCredential(name, password, mechanism, iterations));
      process.stdout.write(`user ${name}: ${mechanism} credential set (${iterations} iterations)\n`);
    });

  user
    .command("list")
    .description("every user with its mechanisms")
    .option("-J, --json", "one JSON object per line")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const users = await withAdmin(cmd, (admin) => admin.describeScramUsers());
      if (opts.json) {
        for (const u of users) process.stdout.write(`${JSON.stringify(u)}\n`);
        return;
      }
      const rows = [["USER", "MECHANISMS"]];
      for (const u of users)
        rows.push([u.user, u.mechanisms.map((m) => `${m.mechanism} (${m.iterations})`).join(", ")]);
      process.stdout.write(`${table(rows)}\n`);
    });

  user
    .command("delete <name>")
    .description("delete a user's credentials (every mechanism, or --mechanism's)")
    .option("--mechanism <name>", "only this one: SCRAM-SHA-256 or SCRAM-SHA-512")
    .action(async (name: string, opts: { mechanism?: string }, cmd: Command) => {
      await withAdmin(cmd, async (admin) => {
        const wanted = opts.mechanism === undefined ? null : mechanismOf(opts.mechanism);
        const [found] = await admin.describeScramUsers([name]);
        const mechanisms = wanted ? [wanted] : found.mechanisms.map((m) => m.mechanism as Mechanism);
        for (const m of mechanisms) await admin.deleteScramCredential(name, m);
        process.stdout.write(`user ${name}: deleted ${mechanisms.join(", ")}\n`);
      });
    });
}
