/**
 * A TCP proxy whose link can be cut, to make "service gone" happen for real: open sockets
 * are destroyed and new connections refused until `restore()`. Or held: connections are
 * accepted and kept open, and bytes go nowhere either way (an endpoint that never answers).
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** From now on, bytes are swallowed both ways (open connections included) until `release()`. */
  hold(): void;
  release(): void;
  stop(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let holding = false;
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        if (!holding) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listenOnce = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  // While cut, the port is free: on a busy machine another socket may take it for a moment.
  const listen = async (port: number) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        return await listenOnce(port);
      } catch (error) {
        const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!inUse || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    cut: close,
    restore: () => listen(address.port),
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
    },
    stop: close,
  };
}

/** A proxy in front of the PostgreSQL of `databaseUrl`, and the same URL through it. */
export async function proxyDatabase(
  databaseUrl: string,
): Promise<{ readonly proxy: TcpProxy; readonly url: string }> {
  const direct = new URL(databaseUrl);
  const proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
  const proxied = new URL(databaseUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  return { proxy, url: proxied.toString() };
}
