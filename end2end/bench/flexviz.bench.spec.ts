// Linked views side by side with FlexViz 0.1.0b5 (bench/flexviz/app.py), in one run, in
// headless Chromium, on each page's own clock. The same view on both sides: a random walk
// of N rows (steps uniform in [-1, 1)) as a line over the row number and a 100-bin
// histogram of it, linked.
// - brush → line painted: from the first `plotly_selected` on the histogram after a real
//   mouse drag (released; the same drags on both sides) to the paint after the line's
//   last redraw for it;
// - 1 % zoom → line painted: from the first `plotly_relayout` on the line (its x range set
//   to 1 % of the rows) to the same point.
// - 1 % zoom → every figure it redraws painted: Stayput's zoom also re-aggregates the
//   histogram (over the same x), which it draws after the line has painted; FlexViz's
//   redraws the line only.
// Both ends are read the same way on both sides: the start in a listener put before the
// page's own; the end at the first timer after the animation frame that follows the
// line's `plotly_afterplot` (the paint); the gesture is over when no request is on its
// way and neither figure has redrawn for 500 ms.
// FlexViz runs on its defaults (no cache; `FLEXVIZ_CACHE=1` turns its cubes on). Its
// page's plotly.js and gridstack are served from local npm copies (scripts/flexviz-setup).
// Stayput's server has room for the 1e8-row series (3.2 GB, over a default session quota).
// Prints a Markdown table and writes it to end2end/bench-flexviz.md.
import { expect, test, type Page } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { root, type Running } from "../server";
import { drag, makeSeries, median, REPS, SIZES, startRoomyServer } from "./series";

const VENV = process.env.STAYPUT_FLEXVIZ_VENV ?? join(homedir(), ".cache", "stayput", "flexviz-venv");
const fmt = (xs: number[]) => xs.map((v) => v.toFixed(0)).join(" ");

let server: Running;
test.beforeAll(async () => {
  server = await startRoomyServer();
});
test.afterAll(async () => server?.stop());

/** The `i`th 1 % range of `n` rows. */
const zoomRange = (n: number, i: number) => {
  const lo = Math.floor(n * (0.1 + 0.1 * i));
  return [lo, lo + n / 100];
};

// ---------------------------------------------------------------------------------------
// Stayput: /linked with the two figures, over the series /explore makes.

async function stayput(page: Page, n: number): Promise<{ brush: number[]; zoom: number[]; zoomAll: number[] }> {
  await countRequests(page);
  await makeSeries(page, server.url, n);
  const id = new URL(page.url()).searchParams.get("h");
  expect(id).toBeTruthy();
  const view = {
    figures: [
      { kind: "line", x: "row", y: "walk" },
      { kind: "histogram", x: "row", y: "walk" },
    ],
  };
  await page.goto(`${server.url}/linked?h=${id}&view=${encodeURIComponent(JSON.stringify(view))}`);
  const line = page.getByTestId("linked-0");
  await expect(line).toHaveAttribute("data-draws", /\d+/, { timeout: 300_000 });
  await expect(page.getByTestId("linked-1")).toHaveAttribute("data-draws", /\d+/, { timeout: 300_000 });
  await instrument(page, "linked-plot-0", "linked-plot-1");
  await settled(page);
  const brush: number[] = [];
  for (let i = 0; i < REPS; i++) {
    await drag(page, '[data-testid="linked-1"] .nsewdrag', i);
    brush.push(took(await settled(page), "selected"));
  }
  const zoom: number[] = [];
  const zoomAll: number[] = [];
  for (let i = 0; i < REPS; i++) {
    await line.evaluate(
      (el, range) =>
        (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, { "xaxis.range": range }),
      zoomRange(n, i),
    );
    const marks = await settled(page);
    zoom.push(took(marks, "relayout"));
    zoomAll.push(took(marks, "relayout", true));
  }
  return { brush, zoom, zoomAll };
}

// ---------------------------------------------------------------------------------------
// FlexViz: its app on a free port, its page instrumented from outside.

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => ok(port));
    });
  });
}

async function startFlexviz(n: number): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(join(VENV, "bin", "python"), [join(root, "bench", "flexviz", "app.py"), String(n), String(port)], {
    env: { ...process.env, FLEXVIZ_CACHE: process.env.FLEXVIZ_CACHE ?? "0" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 250) {
    if (child.exitCode !== null) throw new Error(`the FlexViz app exited (${child.exitCode}): run scripts/flexviz-setup`);
    const up = await fetch(url + "/sources").then((r) => r.text(), () => "");
    if (up.includes("walk")) return { url, child };
    if (waited > 300_000) throw new Error("the FlexViz app did not start");
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Counts the page's requests on their way (both pages update by `fetch`). */
async function countRequests(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const bench = ((window as any).__bench = { marks: [] as [string, number][], draws: 0, inflight: 0 });
    const fetch0 = window.fetch;
    window.fetch = async (...args: Parameters<typeof fetch>) => {
      bench.inflight++;
      try {
        return await fetch0(...args);
      } finally {
        bench.inflight--;
      }
    };
  });
}

/** Marks, on the page's clock, plotly's `plotly_selected` on the histogram and
 * `plotly_relayout` on the line (in listeners put before the page's own, which send its
 * request), and each paint after the line's redraws (the first timer after the
 * animation frame that follows `plotly_afterplot`). */
async function instrument(page: Page, lineId: string, histId: string): Promise<void> {
  await page.evaluate(
    ([lineId, histId]) => {
      const bench = (window as any).__bench;
      const mark = (name: string) => bench.marks.push([name, performance.now()]);
      const line = document.getElementById(lineId) as any;
      const hist = document.getElementById(histId) as any;
      hist._ev.prependListener("plotly_selected", () => mark("selected"));
      line._ev.prependListener("plotly_relayout", () => mark("relayout"));
      line.on("plotly_afterplot", () => {
        bench.draws++;
        requestAnimationFrame(() => setTimeout(() => mark("painted")));
      });
      hist.on("plotly_afterplot", () => {
        bench.draws++;
        requestAnimationFrame(() => setTimeout(() => mark("painted-other")));
      });
    },
    [lineId, histId],
  );
}

/** Waits until no request is on its way and neither figure has redrawn for 500 ms; returns
 * the marks since the last call and clears them. */
async function settled(page: Page): Promise<[string, number][]> {
  let last = -1;
  for (;;) {
    await page.waitForTimeout(500);
    const now = await page.evaluate(() => {
      const bench = (window as any).__bench;
      return bench.draws * 1000 + bench.inflight;
    });
    if (now === last && now % 1000 === 0) break;
    last = now;
  }
  return page.evaluate(() => {
    const bench = (window as any).__bench;
    const marks = bench.marks;
    bench.marks = [];
    return marks;
  });
}

/** From the first `from` mark to the line's last paint (`every`: to the last paint of
 * either figure). */
function took(marks: [string, number][], from: string, every = false): number {
  const start = marks.find(([name]) => name === from)?.[1] ?? NaN;
  const painted = (name: string) => name === "painted" || (every && name === "painted-other");
  const end = marks.filter(([name, at]) => painted(name) && at > start).at(-1)?.[1] ?? NaN;
  return end - start;
}

async function flexviz(page: Page, n: number): Promise<{ brush: number[]; zoom: number[]; zoomAll: number[] }> {
  const app = await startFlexviz(n);
  try {
    const external: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith("http://127.0.0.1")) external.push(r.url());
    });
    await countRequests(page);
    await page.goto(app.url + "/");
    await page.waitForFunction(
      () => {
        const [a, b] = ["fv-plot-0", "fv-plot-1"].map((id) => document.getElementById(id) as any);
        return a?._fvBound && b?._fvBound && a.data?.[0]?.x?.length > 0 && b.data?.[0]?.x?.length > 0;
      },
      null,
      { timeout: 300_000 },
    );
    await instrument(page, "fv-plot-0", "fv-plot-1");
    await settled(page);
    const brush: number[] = [];
    for (let i = 0; i < REPS; i++) {
      await drag(page, "#fv-plot-1 .nsewdrag", i);
      brush.push(took(await settled(page), "selected"));
    }
    const zoom: number[] = [];
    const zoomAll: number[] = [];
    for (let i = 0; i < REPS; i++) {
      await page.evaluate(
        (range) => (window as any).Plotly.relayout("fv-plot-0", { "xaxis.range": range }),
        zoomRange(n, i),
      );
      const marks = await settled(page);
      zoom.push(took(marks, "relayout"));
      zoomAll.push(took(marks, "relayout", true));
    }
    expect(external, "FlexViz's page made a request off this machine").toEqual([]);
    return { brush, zoom, zoomAll };
  } finally {
    app.child.kill("SIGTERM");
  }
}

test("linked views against FlexViz", async ({ browser }) => {
  test.setTimeout(3_600_000);
  const rows: string[] = [];
  for (const n of SIZES) {
    const ours = await (async () => {
      const page = await browser.newPage();
      try {
        return await stayput(page, n);
      } finally {
        await page.close();
      }
    })();
    const theirs = await (async () => {
      const page = await browser.newPage();
      try {
        return await flexviz(page, n);
      } finally {
        await page.close();
      }
    })();
    console.log(`${n}: Stayput brush ${fmt(ours.brush)} zoom ${fmt(ours.zoom)} (every figure ${fmt(ours.zoomAll)})`);
    console.log(`${n}: FlexViz brush ${fmt(theirs.brush)} zoom ${fmt(theirs.zoom)} (every figure ${fmt(theirs.zoomAll)})`);
    const [sb, fb, sz, fz, sa, fa] = [ours.brush, theirs.brush, ours.zoom, theirs.zoom, ours.zoomAll, theirs.zoomAll].map(median);
    rows.push(
      `| ${n.toExponential(0)} | ${sb.toFixed(1)} | ${fb.toFixed(1)} | ${(fb / sb).toFixed(1)}× | ${sz.toFixed(1)} | ${fz.toFixed(1)} | ${(fz / sz).toFixed(1)}× | ${sa.toFixed(1)} | ${fa.toFixed(1)} |`,
    );
  }
  const table = [
    "| rows | brush → line painted, Stayput (ms) | FlexViz (ms) | × | 1 % zoom → line painted, Stayput (ms) | FlexViz (ms) | × | zoom → every redrawn figure painted, Stayput (ms) | FlexViz (line only) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
  ].join("\n");
  console.log("\n" + table);
  writeFileSync(join(__dirname, "..", "bench-flexviz.md"), table + "\n");
});
