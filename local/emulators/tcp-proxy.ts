/**
 * An in-process TCP proxy on loopback, put between a client and a server to make the network
 * between them bad on purpose: added latency in each direction, and every open connection
 * dropped at once (both sockets destroyed, as a broken network path or a proxy restart would).
 * Bytes pass through untouched, so TLS works end to end: the client still verifies the server's
 * certificate (it names 127.0.0.1) and the proxy sees only ciphertext.
 *
 * The soak puts one between the sink and Redis (local/soak/). Redis Cluster clients follow the
 * nodes' own addresses (CLUSTER SLOTS, MOVED), so a proxy in front of one node would not stay
 * in their path: it is for a single server.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface TcpProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** Each chunk a client sends, by size, as it arrives (e.g. to act while a request is in flight). */
  onClientChunk?(bytes: number): void;
}

export interface TcpProxyStats {
  accepted: number;
  /** Connections cut by dropConnections(). */
  dropped: number;
}

export interface TcpProxy {
  readonly port: number;
  readonly stats: TcpProxyStats;
  /** Delay added to every chunk, in each direction, from now on; 0 for none. */
  setLatency(ms: number): void;
  /** Destroys every open connection, both sides; returns how many. New ones are accepted. */
  dropConnections(): number;
  close(): Promise<void>;
}

/** Writes chunks to `to` after the current latency, in the order they came. */
function delayedPipe(
  from: Socket,
  to: Socket,
  latency: () => number,
  onChunk?: (n: number) => void,
) {
  let lastAt = 0;
  from.on('data', (chunk: Buffer) => {
    onChunk?.(chunk.length);
    const ms = latency();
    if (ms <= 0 && lastAt <= Date.now()) {
      to.write(chunk);
      return;
    }
    // Timers due at the same time run in the order they were set: order is kept.
    const at = Math.max(Date.now() + ms, lastAt);
    lastAt = at;
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, at - Date.now());
  });
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const host = options.targetHost ?? '127.0.0.1';
  let latencyMs = 0;
  const open = new Set<Socket>();
  const stats: TcpProxyStats = { accepted: 0, dropped: 0 };
  const server: Server = createServer((client) => {
    stats.accepted += 1;
    const upstream = tcpConnect({ host, port: options.targetPort });
    const pair = [client, upstream];
    for (const socket of pair) {
      open.add(socket);
      socket.setNoDelay(true);
      // A dropped or refused side ends the other: the client sees the connection break.
      socket.on('error', () => {});
      socket.on('close', () => {
        open.delete(socket);
        for (const other of pair) if (other !== socket) other.destroy();
      });
    }
    delayedPipe(client, upstream, () => latencyMs, options.onClientChunk);
    delayedPipe(upstream, client, () => latencyMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    stats,
    setLatency(ms) {
      latencyMs = Math.max(0, ms);
    },
    dropConnections() {
      const sockets = [...open];
      for (const socket of sockets) socket.destroy();
      const connections = Math.ceil(sockets.length / 2);
      stats.dropped += connections;
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
