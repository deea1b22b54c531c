/**
 * A TCP proxy that holds every byte a client sends for `delayMs` before passing it on, and drops what
 * it still holds when the client's connection closes: a slow or congested path whose bytes had not left
 * the sending host when its process died. Answers come back at once. Used to put a worker's Temporal
 * calls (its heartbeats) behind a slow link, so a crash can happen while a heartbeat is on its way.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface SlowLink {
  /** `127.0.0.1:PORT`: give this to the client instead of the target. */
  address: string;
  close(): Promise<void>;
}

export async function startSlowLink(target: string, delayMs: number): Promise<SlowLink> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    const held = new Set<NodeJS.Timeout>();
    client.on('data', (chunk) => {
      const t = setTimeout(() => {
        held.delete(t);
        if (!upstream.destroyed) upstream.write(chunk);
      }, delayMs);
      held.add(t);
    });
    upstream.on('data', (chunk) => {
      if (!client.destroyed) client.write(chunk);
    });
    const drop = () => {
      for (const t of held) clearTimeout(t);
      held.clear();
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', drop).on('error', drop);
    upstream.on('close', drop).on('error', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port: own } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${own}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
