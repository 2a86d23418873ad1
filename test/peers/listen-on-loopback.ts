import type { AddressInfo, Server, Socket } from "node:net";

export interface LoopbackListener {
  port: number;
  /** Stops listening and drops open connections (keep-alive sockets of SDK clients would hold it open). */
  close(): Promise<void>;
}

/** Starts an HTTP or HTTPS peer on 127.0.0.1 at a free port; every peer in test/peers stops the same way. */
export async function listenOnLoopback(server: Server): Promise<LoopbackListener> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
