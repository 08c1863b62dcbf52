// Median click→mean painted (the Dash reference's instrument: from the click to the first
// animation frame after the mean is in the DOM), the page's own click→mean shown, and bytes
// per run of the benchmark page, in headless Chromium, for server mode (N = 1 … 1e8) and
// client mode (N = 1 … 1e7). Prints a Markdown table and writes it to end2end/bench-results.md.
import { test } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openBenchmark, runBenchmark } from "../tests/helpers";

const SIZES = [1, 1_000, 100_000, 1_000_000, 10_000_000, 100_000_000];
const reps = (n: number) => (n >= 10_000_000 ? 9 : 11);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];


test("benchmark", async ({ page }) => {
  const rows: string[] = [];
  const fmtBytes = (b: number) =>
    b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} KB` : `${b} B`;
  for (const mode of ["server", "client"] as const) {
    for (const n of SIZES) {
      if (mode === "client" && n > 10_000_000) continue;
      await openBenchmark(page); // a fresh page per size keeps the browser heap comparable
      await runBenchmark(page, n, mode); // warm-up, not counted
      const times: number[] = [];
      const painted: number[] = [];
      const bytes: number[] = [];
      for (let i = 0; i < reps(n); i++) {
        const run = await runBenchmark(page, n, mode);
        times.push(run.elapsed);
        painted.push(run.painted);
        bytes.push(run.bytes);
      }
      const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
      const line = `| ${mode} | ${n.toExponential(0).replace("e+", "e")} | ${median(painted).toFixed(1)} ms | ${Math.min(...painted).toFixed(1)} – ${Math.max(...painted).toFixed(1)} ms | ${ms(median(times))} | ${fmtBytes(median(bytes))} | ${reps(n)} |`;
      console.log(line);
      rows.push(line);
    }
  }
  const table = [
    "| mode | N | median click → mean painted | fastest – slowest (painted) | median click → mean in the DOM (the page's own ELAPSED) | bytes per run (histogram included) | runs |",
    "|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
  writeFileSync(join(__dirname, "..", "bench-results.md"), table + "\n");
  console.log("\n" + table);
});
