/**
 * `samsa security dev-certs`: a development CA, a server certificate and client certificates
 * signed by it, written as PEM files for a TLS listener and its clients (cli/certs.ts).
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { collect, wholeNumber } from "./common.js";

interface DevCertsOptions {
  out: string;
  hosts?: string;
  client: string[];
  days?: string;
  force?: boolean;
}

/** One file to write: its name in the output directory, PEM text, and whether it is secret. */
interface PemFile {
  name: string;
  pem: string;
  secret: boolean;
  what: string;
}

export function registerSecurityCommands(program: Command): void {
  const security = program.command("security").description("TLS material for development");
  security
    .command("dev-certs")
    .description("make a development CA, a server certificate and client certificates (PEM)")
    .requiredOption("--out <dir>", "directory to write the files into (made if missing)")
    .option(
      "--hosts <list>",
      "comma-separated DNS names and IP addresses the server answers to",
      "localhost,127.0.0.1",
    )
    .option("--client <name>", "a client certificate with CN=<name> (repeatable)", collect, [])
    .option("--days <n>", "days the certificates are valid", "365")
    .option("--force", "replace files that already exist")
    .addHelpText(
      "after",
      "\nExample:\n  samsa security dev-certs --out ./certs --hosts localhost,127.0.0.1,broker1 --client alice",
    )
    .action(async (opts: DevCertsOptions) => {
      const files = await makeFiles(opts);
      const dir = path.resolve(opts.out);
      if (!opts.force) {
        const present = files.find((f) => existsSync(path.join(dir, f.name)));
        if (present) throw new Error(`${path.join(dir, present.name)} exists (--force replaces it)`);
      }
      mkdirSync(dir, { recursive: true });
      for (const f of files) {
        const file = path.join(dir, f.name);
        writeFileSync(file, f.pem, { mode: f.secret ? 0o600 : 0o644 });
        // The mode applies only to a new file: one replaced by --force is set here.
        chmodSync(file, f.secret ? 0o600 : 0o644);
        process.stdout.write(`wrote ${file} (${f.what})\n`);
      }
      process.stdout.write(`${hint(dir, opts.client[0])}\n`);
    });
}

/** Checks the flags, then makes every certificate (the maker loaded only now). */
async function makeFiles(opts: DevCertsOptions): Promise<PemFile[]> {
  const certs = await import("../certs.js");
  const days = wholeNumber(
    "--days",
    opts.days ?? "365",
    1,
    `a whole number from 1 to ${certs.MAX_DAYS_VALID}`,
  );
  if (days > certs.MAX_DAYS_VALID) throw new Error(`--days ${opts.days}: at most ${certs.MAX_DAYS_VALID}`);
  const hosts = (opts.hosts ?? "").split(",").map((h) => h.trim());
  for (const host of hosts) {
    const problem = certs.hostProblem(host);
    if (problem) throw new Error(`--hosts ${opts.hosts}: ${problem}`);
  }
  for (const name of opts.client) {
    const problem = certs.clientNameProblem(name);
    if (problem) throw new Error(`--client ${name}: ${problem}`);
  }
  if (new Set(opts.client).size !== opts.client.length) throw new Error("--client: a name is given twice");
  const ca = await certs.makeCa({ days });
  const [server, ...clients] = await Promise.all([
    certs.makeServerCert(ca, hosts, { days }),
    ...opts.client.map((name) => certs.makeClientCert(ca, name, { days })),
  ]);
  const files: PemFile[] = [
    { name: "ca.pem", pem: ca.cert, secret: false, what: `CA "${ca.name}": clients and brokers trust it` },
    { name: "ca-key.pem", pem: ca.key, secret: true, what: "the CA's private key: keep it to sign more" },
    {
      name: "server.pem",
      pem: server.cert,
      secret: false,
      what: `server certificate for ${hosts.join(", ")}`,
    },
    { name: "server-key.pem", pem: server.key, secret: true, what: "the server's private key" },
  ];
  opts.client.forEach((name, i) => {
    files.push(
      {
        name: `client-${name}.pem`,
        pem: clients[i].cert,
        secret: false,
        what: `client certificate CN=${name}`,
      },
      { name: `client-${name}-key.pem`, pem: clients[i].key, secret: true, what: `${name}'s private key` },
    );
  });
  return files;
}

/** One line: how a client uses the files (the broker serves server.pem with server-key.pem). */
function hint(dir: string, client: string | undefined): string {
  const ca = path.join(dir, "ca.pem");
  const mtls = client
    ? ` --tls-cert ${path.join(dir, `client-${client}.pem`)} --tls-key ${path.join(dir, `client-${client}-key.pem`)}`
    : "";
  return `use: the broker's TLS listener serves server.pem with server-key.pem; clients: samsa --tls --tls-ca ${ca}${mtls} -b <host:port> topic list`;
}
