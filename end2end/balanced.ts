// Several servers behind a real balancer: a Redis of our own, two Stayput servers sharing
// it (and one uploads directory), and HAProxy round-robin in front of them, each on a
// free loopback port. Used by balanced.config.ts; everything stops with `stop()`.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type Running } from "./server";

/** A port the OS hands out, closed again at once. */
async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => ok(port));
    });
  });
}

/** Resolves once something accepts connections on `port` (at most 10 s). */
async function listening(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((ok) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        ok(true);
      });
      socket.once("error", () => ok(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.on("exit", () => done());
    child.kill("SIGTERM");
  });
}

export interface Balanced {
  url: string;
  servers: string[];
  stop: () => Promise<void>;
}

/** The HAProxy configuration for two servers (also shown in docs/SCALING.md). */
export function haproxyConfig(port: number, servers: string[]): string {
  const lines = [
    "global",
    "  maxconn 512",
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 120s",
    "  timeout server 120s",
    "  # the steps socket (WebSocket) once upgraded",
    "  timeout tunnel 1h",
    "frontend stayput",
    `  bind 127.0.0.1:${port}`,
    "  default_backend servers",
    "backend servers",
    "  balance roundrobin",
    "  # which server answered, for the tests",
    "  http-response set-header X-Stayput-Server %[srv_name]",
    ...servers.map((url, i) => `  server s${i + 1} ${url.replace("http://", "")}`),
  ];
  return lines.join("\n") + "\n";
}

export async function startBalanced(profile: string): Promise<Balanced> {
  const work = mkdtempSync(join(tmpdir(), "stayput-balanced-"));
  const redisPort = await freePort();
  const redis = spawn(
    process.env.STAYPUT_REDIS_SERVER ?? "redis-server",
    ["--bind", "127.0.0.1", "--port", String(redisPort), "--save", "", "--appendonly", "no", "--dir", work],
    { stdio: "ignore" },
  );
  const children: ChildProcess[] = [redis];
  const servers: Running[] = [];
  const stop = async () => {
    for (const server of servers) await server.stop();
    for (const child of children.reverse()) await stopChild(child);
  };
  try {
    await listening(redisPort);
    const env = {
      STAYPUT_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      STAYPUT_SHARED_DIR: mkdtempSync(join(tmpdir(), "stayput-shared-")),
    };
    servers.push(await startServer(profile, env));
    servers.push(await startServer(profile, env));
    const port = await freePort();
    const config = join(work, "haproxy.cfg");
    writeFileSync(config, haproxyConfig(port, servers.map((s) => s.url)));
    const haproxy = spawn(process.env.STAYPUT_HAPROXY ?? "haproxy", ["-f", config], { stdio: ["ignore", "ignore", "inherit"] });
    children.push(haproxy);
    await listening(port);
    return { url: `http://127.0.0.1:${port}`, servers: servers.map((s) => s.url), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
