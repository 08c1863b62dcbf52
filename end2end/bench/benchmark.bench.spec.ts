// Median click→mean painted (the Dash reference's instrument: from the click to the first
// animation frame after the mean is in the DOM), the page's own click→mean shown, and bytes
// per run of the benchmark page, in headless Chromium, for server mode (N = 1 … 1e8) and
// client mode (N = 1 … 1e7). Prints a Markdown table and writes it to end2end/bench-results.md,
// with where the time of a server-mode run goes (the page's marks and the server's own
// timing of each step).
import { test } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, type Running } from "../server";
import { openBenchmark, runBenchmark, type Click } from "../tests/helpers";

// Its own server on the defaults, logging how long each step took on the server
// (`app/src/server/ops.rs`'s debug lines): nothing else differs from the shared one.
let server: Running;
let sharedUrl: string | undefined;
test.beforeAll(async () => {
  server = await startServer(process.env.STAYPUT_E2E_PROFILE ?? "release", {
    RUST_LOG: "info,tower_http=warn,app::server::ops=debug,app::server::steps_socket=debug",
  });
  sharedUrl = process.env.STAYPUT_URL;
  process.env.STAYPUT_URL = server.url;
});
test.afterAll(async () => {
  process.env.STAYPUT_URL = sharedUrl;
  await server?.stop();
});

/** The server's own time of each `step` (ms) in `log`. */
function serverMs(log: string, step: string): number[] {
  const re = new RegExp(`${step} .*?elapsed_ms=([0-9.]+)`, "g");
  // eslint-disable-next-line no-control-regex
  return [...log.replace(/\x1b\[[0-9;]*m/g, "").matchAll(re)].map((m) => Number(m[1]));
}

// STAYPUT_BENCH_MAX_ROWS leaves out larger sizes (a quick look, e.g. against a debug build).
const MAX_ROWS = Number(process.env.STAYPUT_BENCH_MAX_ROWS ?? Infinity);
const SIZES = [1, 1_000, 100_000, 1_000_000, 10_000_000, 100_000_000].filter((n) => n <= MAX_ROWS);
const reps = (n: number) => (n >= 10_000_000 ? 9 : 21);
// A user's pause before each click (STAYPUT_BENCH_THINK_MS, default 250 ms): a user clicks
// Run well after the previous result was drawn. At 1e6 two more ways of clicking are
// measured (when the pause is on): "back to back" (the next click as soon as the
// previous histogram is drawn, ~50 ms after its last frame) and "pointer approach" (the
// pointer moved onto the button over ~200 ms, a move a frame, and the click right after).
const THINK_MS = Number(process.env.STAYPUT_BENCH_THINK_MS ?? 250);
/** The median (the mean of the two middle values for an even count). */
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};


test("benchmark", async ({ page }) => {
  const rows: string[] = [];
  const breakdowns: string[] = [];
  const fmtBytes = (b: number) =>
    b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} KB` : `${b} B`;
  type Case = { mode: "server" | "client"; n: number; label: string; click: Click; breakdown: boolean };
  const at1e6 = SIZES.includes(1_000_000) && THINK_MS > 0;
  const cases: Case[] = [
    ...SIZES.map((n) => ({ mode: "server" as const, n, label: "server", click: { thinkMs: THINK_MS }, breakdown: true })),
    ...(at1e6
      ? [
          { mode: "server" as const, n: 1_000_000, label: "server, back to back", click: {}, breakdown: false },
          { mode: "server" as const, n: 1_000_000, label: "server, pointer approach", click: { approach: true }, breakdown: false },
        ]
      : []),
    ...SIZES.filter((n) => n <= 10_000_000).map((n) => ({
      mode: "client" as const,
      n,
      label: "client",
      click: { thinkMs: THINK_MS },
      breakdown: false,
    })),
  ];
  for (const { mode, n, label, click, breakdown } of cases) {
    await openBenchmark(page); // a fresh page per size keeps the browser heap comparable
    await runBenchmark(page, n, mode, { force: true }); // warm-up, not counted
    const times: number[] = [];
    const painted: number[] = [];
    const bytes: number[] = [];
    const stages: Record<string, number[]> = {};
    const add = (stage: string, ms: number) => (stages[stage] ??= []).push(ms);
    for (let i = 0; i < reps(n); i++) {
      const logged = server.output().length;
      const run = await runBenchmark(page, n, mode, click);
      times.push(run.elapsed);
      painted.push(run.painted);
      bytes.push(run.bytes);
      if (mode === "server") {
        const log = server.output().slice(logged);
        const [create] = serverMs(log, "create_frame");
        const [mean] = serverMs(log, "frame_mean");
        const [step1, step2] = serverMs(log, "steps socket: message in → reply sent");
        if ([create, mean, step1, step2].some((ms) => ms === undefined)) {
          throw new Error(`the server's log lacks a step's time for this run:\n${log}`);
        }
        const s = run.stages;
        add("click → run starts", s.run);
        add("step 1: the fill on the server", create);
        add("step 1: message in → reply sent, on the server", step1);
        add("step 1 (sent → answer in)", s.created - s.run);
        add("step 2: the mean on the server", mean);
        add("step 2: message in → reply sent, on the server", step2);
        add("step 2 (sent → answer in)", s.mean - s.created);
        add("answer → mean in the DOM", s.dom - s.mean);
        add("DOM → next animation frame", s.painted - s.dom);
      }
    }
    if (breakdown) {
      const cells = Object.values(stages).map((ms) => `${median(ms).toFixed(1)} ms`);
      breakdowns.push(`| ${n.toExponential(0).replace("e+", "e")} | ${cells.join(" | ")} |`);
      if (breakdowns.length === 1) {
        breakdowns.unshift(`| N | ${Object.keys(stages).join(" | ")} |`, `|---|${Object.keys(stages).map(() => "---:").join("|")}|`);
      }
    }
    const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
    const line = `| ${label} | ${n.toExponential(0).replace("e+", "e")} | ${median(painted).toFixed(1)} ms | ${Math.min(...painted).toFixed(1)} – ${Math.max(...painted).toFixed(1)} ms | ${ms(median(times))} | ${fmtBytes(median(bytes))} | ${reps(n)} |`;
    console.log(line);
    rows.push(line);
  }
  const table = [
    "| mode | N | median click → mean painted | fastest – slowest (painted) | median click → mean in the DOM (the page's own ELAPSED) | bytes per run (histogram included) | runs |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    THINK_MS > 0
      ? `Each click comes ${THINK_MS} ms after the previous run was done (a user's pause), except "back to back" (the next click as soon as the previous histogram is drawn) and "pointer approach" (the pointer moved onto the button over ~200 ms, then the click at once).`
      : "Each click comes as soon as the previous histogram is drawn (no pause).",
    "",
    "Server mode, where the time went (medians; the page's marks, the server's own time of each step from its debug log):",
    "",
    ...breakdowns,
  ].join("\n");
  writeFileSync(join(__dirname, "..", "bench-results.md"), table + "\n");
  console.log("\n" + table);
});
