// Starts a built Stayput server on a port the OS picks and resolves with its URL.
// Shared by the Playwright global setup and the benchmark script.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const root = resolve(__dirname, "..");

export interface Running {
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
  /** Everything the server has written to stdout and stderr so far. */
  output: () => string;
}

/** `profile` is "debug" (tests) or "release" (benchmarks). */
export function serverBinary(profile: string): string {
  const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), ".cache", "stayput", "target");
  return join(target, profile, "server");
}

export async function startServer(profile: string, env: Record<string, string> = {}): Promise<Running> {
  const bin = process.env.STAYPUT_SERVER_BIN ?? serverBinary(profile);
  const site = join(root, "target", "site");
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: run \`scripts/site\` and \`cargo build -p server\` first`);
  if (!existsSync(join(site, "pkg"))) throw new Error(`no site at ${site}: run \`scripts/site\` and \`cargo build -p server\` first`);
  const cacheDir = mkdtempSync(join(tmpdir(), "stayput-e2e-"));
  const child = spawn(bin, [], {
    cwd: root,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: "127.0.0.1:0",
      LEPTOS_SITE_ROOT: site,
      LEPTOS_OUTPUT_NAME: "stayput",
      RUST_LOG: "info,tower_http=warn",
      NO_COLOR: "1",
      // Its own cache directory (removed when it stops): opening one removes the files
      // found there.
      STAYPUT_CACHE_DIR: cacheDir,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let seen = "";
  const url = await new Promise<string>((ok, fail) => {
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const m = /Stayput listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m) ok(m[1]);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      onData(chunk);
    });
    child.on("exit", (code) => fail(new Error(`server exited with ${code} before listening:\n${seen}`)));
  });
  // The cache directory goes once the server has exited (a frame made on disk is 8 GB).
  const removeDir = () => rmSync(cacheDir, { recursive: true, force: true });
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null) {
        removeDir();
        return done();
      }
      child.on("exit", () => {
        removeDir();
        done();
      });
      child.kill("SIGTERM");
    });
  return { url, child, stop, output: () => seen };
}
