/**
 * A loopback TCP proxy a test can cut: `cut()` drops every connection through it and refuses new
 * ones until `restore()`, so one client loses its server while others keep it (a partition);
 * `freeze()` keeps the connections open but moves no byte until `thaw()` (a silent server).
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  /** Each socket and the one it forwards to. */
  private readonly peers = new Map<Socket, Socket>();
  private isCut = false;
  private frozen = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on a free loopback port, forwarding to `targetPort` on 127.0.0.1. */
  static start(targetPort: number): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      let proxy: TcpProxy | undefined;
      const server = createServer((inbound) => proxy?.accept(inbound, targetPort));
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        proxy = new TcpProxy(server, typeof address === "object" && address ? address.port : 0);
        resolve(proxy);
      });
    });
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  private accept(inbound: Socket, targetPort: number): void {
    if (this.isCut) {
      inbound.destroy();
      return;
    }
    const outbound = connect(targetPort, "127.0.0.1");
    for (const [a, b] of [
      [inbound, outbound],
      [outbound, inbound],
    ]) {
      this.sockets.add(a);
      this.peers.set(a, b);
      if (this.frozen) a.pause();
      else a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        this.sockets.delete(a);
        this.peers.delete(a);
        b.destroy();
      });
    }
  }

  cut(): void {
    this.isCut = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.isCut = false;
  }

  freeze(): void {
    this.frozen = true;
    for (const [from, to] of this.peers) {
      from.unpipe(to);
      from.pause();
    }
  }

  thaw(): void {
    this.frozen = false;
    for (const [from, to] of this.peers) from.pipe(to);
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
