import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on a loopback port in front of a real server, for partition tests: `cut()` drops
 * every connection through it and refuses new ones, as a network outage would; `restore()`
 * listens again on the same port.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly target: { host: string; port: number },
    private port: number,
  ) {}

  /** Relays 127.0.0.1:<free port> to `target` ("host:port"). */
  static async start(target: string): Promise<TcpProxy> {
    const at = target.lastIndexOf(':');
    const proxy = new TcpProxy({ host: target.slice(0, at), port: Number(target.slice(at + 1)) }, 0);
    await proxy.listen();
    return proxy;
  }

  /** Where clients connect: "127.0.0.1:<port>". */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Drops every relayed connection, both ends, and stops listening. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    if (this.server === undefined) await this.listen();
  }

  async close(): Promise<void> {
    await this.cut();
  }

  private async listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection(this.target);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address !== null && typeof address === 'object') this.port = address.port;
    this.server = server;
  }
}
