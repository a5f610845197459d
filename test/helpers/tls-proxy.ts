/**
 * A TLS listener in front of a plaintext broker (node:tls on 127.0.0.1, port 0): it ends TLS and
 * pipes the bytes to the broker's Kafka port, so a client's TLS can be tested before the broker
 * has TLS listeners of its own. Records each client's certificate subject CN (null without one).
 * Metadata still names the broker's plaintext address: requests that Metadata routes (a
 * partition's leader, the controller) do not go through it.
 */
import * as net from "node:net";
import * as tls from "node:tls";

export interface TlsProxyOptions {
  /** The server's certificate and key (PEM). */
  cert: string;
  key: string;
  /** CAs that sign client certificates; with `requireClientCert`, a client without one is refused. */
  ca?: string;
  requireClientCert?: boolean;
  /** The plaintext broker's port on 127.0.0.1. */
  targetPort: number;
}

export class TlsProxy {
  /** The subject CN of each client's certificate, in the order they connected (null: none). */
  readonly clientNames: (string | null)[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: tls.Server,
    readonly port: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(o: TlsProxyOptions): Promise<TlsProxy> {
    const server = tls.createServer({
      cert: o.cert,
      key: o.key,
      ca: o.ca,
      requestCert: o.ca !== undefined,
      rejectUnauthorized: o.requireClientCert === true,
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const proxy = new TlsProxy(server, (server.address() as net.AddressInfo).port);
    server.on("secureConnection", (socket) => proxy.pipe(socket, o.targetPort));
    // A refused handshake is the test's subject, not the proxy's failure.
    server.on("tlsClientError", () => {});
    return proxy;
  }

  private pipe(socket: tls.TLSSocket, targetPort: number): void {
    const cn = socket.getPeerCertificate().subject?.CN;
    this.clientNames.push(typeof cn === "string" ? cn : null);
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [socket, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream).pipe(socket);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
