/**
 * The emulator's HTTPS listeners: one per loopback address of the address plan
 * (`core/hosts.ts`), all on the same port, all serving the one request pipeline.
 *
 * Only addresses in use listen: 127.0.0.1, 127.0.0.2 and the two addresses of each seeded pair
 * (an environment seeded later gets its listeners then). Linux routes all of 127.0.0.0/8 to the
 * loopback interface; macOS has only 127.0.0.1 until an alias is added
 * (`sudo ifconfig lo0 alias 127.0.0.2 up`), which the bind error says.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";

/** How many times a free port is looked for before giving up (port 0 only). */
const PORT_ATTEMPTS = 20;

/** A request handler. */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** One HTTPS server per address, one port. */
export class Listeners {
  private readonly servers = new Map<string, Server>();
  private boundPort = 0;
  private handler: Handler = (_req, res) => {
    // Only between listening and the pipeline being attached, during start.
    res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
    res.end('{"error":{"code":"Starting","message":"The emulator is starting."}}');
  };

  /** @param tls the server certificate (naming every address of the plan) and its key. */
  constructor(private readonly tls: { readonly key: string; readonly cert: string }) {}

  /** The port every address listens on (0 before `start`). */
  get port(): number {
    return this.boundPort;
  }

  /** The addresses listening now. */
  get addresses(): string[] {
    return [...this.servers.keys()];
  }

  /** Sets the handler of every listener, present and future. */
  setHandler(handler: Handler): void {
    this.handler = handler;
  }

  /**
   * Listens on every address on `port`. With port 0, the first address gets a free port from the
   * system and the others take the same; when one of them has it in use already, everything is
   * closed and another port is tried.
   */
  async start(port: number, addresses: readonly string[]): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        let chosen = port;
        for (const address of addresses) chosen = await this.listenOn(address, chosen);
        this.boundPort = chosen;
        return chosen;
      } catch (e) {
        await this.close();
        const inUse = (e as NodeJS.ErrnoException).code === "EADDRINUSE";
        if (port !== 0 || !inUse || attempt >= PORT_ATTEMPTS) throw bindError(e, port);
      }
    }
  }

  /** Listens on one more address on the same port (an environment seeded after start). */
  async add(address: string): Promise<void> {
    if (this.servers.has(address)) return;
    try {
      await this.listenOn(address, this.boundPort);
    } catch (e) {
      throw bindError(e, this.boundPort);
    }
  }

  /** Closes idle keep-alive connections of every listener. */
  closeIdleConnections(): void {
    for (const s of this.servers.values()) s.closeIdleConnections();
  }

  /** Closes every connection of every listener. */
  closeAllConnections(): void {
    for (const s of this.servers.values()) s.closeAllConnections();
  }

  /** Stops listening everywhere; resolves when every server has closed. */
  async close(): Promise<void> {
    const servers = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((done) => {
            s.close(() => done());
            s.closeIdleConnections();
          }),
      ),
    );
  }

  private listenOn(address: string, port: number): Promise<number> {
    const server = createServer({ key: this.tls.key, cert: this.tls.cert, keepAliveTimeout: 5000 });
    // A request Node cannot even parse gets a bare 400; there is no surface to shape it for.
    server.on("clientError", (_err, socket: Socket) => {
      if (socket.writable)
        socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      else socket.destroy();
    });
    server.on("request", (req: IncomingMessage, res: ServerResponse) => this.handler(req, res));
    return new Promise((done, fail) => {
      const onError = (e: NodeJS.ErrnoException) => {
        e.message = `${address}:${port}: ${e.message}`;
        (e as NodeJS.ErrnoException & { address?: string }).address = address;
        fail(e);
      };
      server.once("error", onError);
      // Loopback only: the emulator hands out tokens for anyone who asks with its credentials.
      server.listen(port, address, () => {
        server.off("error", onError);
        this.servers.set(address, server);
        done((server.address() as AddressInfo).port);
      });
    });
  }
}

function bindError(e: unknown, port: number): Error {
  const err = e as NodeJS.ErrnoException & { address?: string };
  const address = err.address ?? "127.0.0.1";
  if (err.code === "EADDRINUSE")
    return new Error(
      `Port ${port} on ${address} is in use; choose another --port (0 picks a free one).`,
      { cause: e },
    );
  if (err.code === "EADDRNOTAVAIL")
    return new Error(
      `${address} is not an address of this machine's loopback interface. The emulator gives every ` +
        `service its own loopback address (docs/emulator.md, "Addresses"); on macOS add it with ` +
        `\`sudo ifconfig lo0 alias ${address} up\`.`,
      { cause: e },
    );
  return err instanceof Error ? err : new Error(String(e));
}
