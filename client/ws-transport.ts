/**
 * Kafka frames over a WebSocket (`ws://host:port/kafka`): one frame per binary message, with its
 * int32 length prefix kept, so both transports share the framing (docs/decisions/0006). A
 * `wss://` URL speaks TLS, verified as the client's `ssl` option says.
 */
import type { ConnectionOptions } from "node:tls";
import WebSocket from "ws";
import { ClientError, handshakeFailed, isTlsFailure } from "./errors.js";

export class WsTransport {
  onFrame: (frame: Buffer) => void = () => {};
  onClose: (err?: Error) => void = () => {};

  private constructor(
    private readonly ws: WebSocket,
    private readonly maxFrameBytes: number,
  ) {
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on("close", () => this.onClose());
    ws.on("error", (err) => this.onClose(err));
  }

  /** Opens `url`; for a `wss://` URL, `tlsOptions` (ca, cert, key, ...) set up its TLS. */
  static connect(
    url: string,
    timeoutMs: number,
    maxFrameBytes: number,
    tlsOptions: ConnectionOptions = {},
  ): Promise<WsTransport> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        ...tlsOptions,
        handshakeTimeout: timeoutMs,
        maxPayload: maxFrameBytes + 4,
      });
      ws.once("open", () => {
        ws.removeAllListeners("error");
        resolve(new WsTransport(ws, maxFrameBytes));
      });
      ws.once("error", (err) =>
        reject(
          isTlsFailure(err)
            ? handshakeFailed(url, err)
            : new ClientError("CONNECTION_FAILED", `${url}: ${err.message}`, { cause: err }),
        ),
      );
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary || data.length < 4) return;
    const size = data.readInt32BE(0);
    if (size !== data.length - 4 || size > this.maxFrameBytes) {
      this.ws.terminate();
      return;
    }
    this.onFrame(data.subarray(4));
  }

  send(chunks: Buffer[], written?: (err?: Error | null) => void): void {
    this.ws.send(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), written);
  }

  /** A closing handshake after the messages already sent; cut after CLOSE_GRACE_MS. */
  close(): Promise<void> {
    const ws = this.ws;
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      timer.unref();
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close();
    });
  }
}

/** How long a closing WebSocket waits for the broker's close frame before it is cut. */
const CLOSE_GRACE_MS = 2_000;
