// /explore end to end, in headless Chromium: for each N, the time from asking for a
// figure to it being drawn (the page's `data-ms`: request, server reduction, transfer,
// plotly draw), for the full range and for a 1 % zoom, and the bytes of each figure
// response. Prints a Markdown table and writes it to end2end/bench-explore.md.
import { expect, test, type Page } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, type Running } from "../server";

// STAYPUT_BENCH_MAX_ROWS leaves out larger sizes (a quick look, e.g. against a debug build).
const MAX_ROWS = Number(process.env.STAYPUT_BENCH_MAX_ROWS ?? Infinity);
// A user's pause before each click on Make (as in the benchmark page's bench).
const THINK_MS = Number(process.env.STAYPUT_BENCH_THINK_MS ?? 250);
const SIZES = [100_000, 1_000_000, 10_000_000, 100_000_000].filter((n) => n <= MAX_ROWS);
const REPS = 7;
const START_MS = 1_704_067_200_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function nextDraw(page: Page, token: number): Promise<number> {
  const figure = page.getByTestId("figure");
  await expect(figure).toHaveAttribute("data-token", String(token), { timeout: 300_000 });
  await expect(page.getByTestId("error")).toHaveCount(0);
  return Number(await figure.getAttribute("data-ms"));
}

// Its own server: the 1e8-row series is 3.2 GB, more than a session may hold by default.
// The benchmark page keeps the shared server on its defaults, as a user would run it.
let server: Running;
test.beforeAll(async () => {
  server = await startServer(process.env.STAYPUT_E2E_PROFILE ?? "release", {
    STAYPUT_MEMORY_BUDGET: "12GiB",
    STAYPUT_SESSION_QUOTA: "8GiB",
  });
});
let makeServer: Running | undefined;
test.afterAll(async () => {
  await server?.stop();
  await makeServer?.stop();
});

test("explore", async ({ page }) => {
  const lines: string[] = [];
  const zoomLines: string[] = [];
  for (const n of SIZES) {
    // Each figure response's body as JSON (decoded) and as it crossed the wire (gzip),
    // filed under the kind of redraw that asked for it.
    type Sizes = { raw: number[]; wire: number[] };
    const sizes = { full: { raw: [], wire: [] } as Sizes, zoom: { raw: [], wire: [] } as Sizes };
    let current = sizes.full;
    // Figure replies come on the page's steps socket (JSON text, not compressed: what
    // crosses the wire is the JSON plus a 2-to-4-byte frame header).
    page.removeAllListeners("websocket");
    page.on("websocket", (ws) =>
      ws.on("framereceived", (frame) => {
        const text = typeof frame.payload === "string" ? frame.payload : frame.payload.toString();
        if (!text.startsWith('{"Ok":{"Figure"')) return;
        const bytes = Buffer.byteLength(text);
        current.raw.push(bytes);
        current.wire.push(bytes + (bytes < 65_536 ? 4 : 10));
      }),
    );
    await page.goto(server.url + "/explore");
    await expect(page.locator("section.explore[data-ready=true]")).toBeVisible();
    await expect(page.locator("section.explore[data-steps=socket]")).toBeVisible();
    await page.getByTestId("series-rows").selectOption(String(n));
    await page.getByTestId("make-series").click();
    let token = 1;
    await nextDraw(page, token);
    const full: number[] = [];
    const zoom: number[] = [];
    const relayoutToPaint: number[] = [];
    const zoomStages: Record<string, number[]> = {};
    const ys = ["sine", "walk"];
    for (let i = 0; i < REPS; i++) {
      // Full range: switch y, which redraws everything.
      current = sizes.full;
      await page.getByTestId("y").selectOption(ys[i % 2]);
      full.push(await nextDraw(page, ++token));
      // 1 % of the rows, somewhere new each time.
      const lo = START_MS + Math.floor(n * (0.1 + 0.1 * i)) * 1000;
      const hi = lo + (n / 100 - 1) * 1000;
      current = sizes.zoom;
      // Timed like the reference: from plotly's relayout event (after plotly has
      // redrawn the old points at the new range) to the first animation frame after the
      // re-reduced figure is drawn; with the call's own time (Resource Timing).
      const timed = await page.getByTestId("figure").evaluate(
        async (el, [lo, hi]) => {
          type Plot = HTMLElement & { once: (event: string, f: () => void) => void };
          const asked = performance.now();
          const before = el.getAttribute("data-token");
          // The zoom's clock starts where the page's own relayout handler starts (its
          // mark `stayput:relayout`, app/src/browser.rs): this listener runs after it.
          let relayout = 0;
          (el as Plot).once("plotly_relayout", () => {
            const marks = performance.getEntriesByName("stayput:relayout", "mark");
            const last = marks[marks.length - 1];
            // No mark: the page did not handle the event; the run says so (NaN).
            relayout = last && last.startTime >= asked ? last.startTime : NaN;
          });
          const drawn = new Promise<{ inDom: number; painted: number }>((done) => {
            const watch = new MutationObserver(() => {
              if (el.getAttribute("data-token") === before) return;
              watch.disconnect();
              const inDom = performance.now();
              requestAnimationFrame(() => done({ inDom, painted: performance.now() }));
            });
            watch.observe(el, { attributes: true, attributeFilter: ["data-token"] });
          });
          await (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, { "xaxis.range": [lo, hi] });
          const { inDom, painted } = await drawn;
          // The page's marks around its figure request (app/src/pages/explore.rs).
          const at = (name: string) => {
            const marks = performance.getEntriesByName(name, "mark");
            const last = marks[marks.length - 1];
            return last && last.startTime >= relayout ? last.startTime : NaN;
          };
          const sent = at("stayput:figure-asked");
          const answered = at("stayput:figure-answered");
          return {
            plotly: relayout - asked,
            total: painted - relayout,
            before: sent - relayout,
            call: answered - sent,
            draw: inDom - answered,
            paint: painted - inDom,
          };
        },
        [lo, hi],
      );
      zoom.push(await nextDraw(page, ++token));
      if (Number.isNaN(timed.total)) throw new Error("the page did not mark its relayout handler (stayput:relayout)");
      relayoutToPaint.push(timed.total);
      for (const [stage, ms] of Object.entries(timed)) (zoomStages[stage] ??= []).push(ms);
    }
    const kb = (b: number) => `${(b / 1000).toFixed(1)} KB`;
    const both = (x: Sizes) => `${kb(median(x.raw))} / ${kb(median(x.wire))}`;
    const line = `| ${n.toExponential(0).replace("e+", "e")} | ${median(full).toFixed(1)} ms | ${median(zoom).toFixed(1)} ms | ${median(relayoutToPaint).toFixed(1)} ms | ${both(sizes.full)} | ${both(sizes.zoom)} | ${REPS} |`;
    console.log(line);
    lines.push(line);
    const z = (k: string) => `${median(zoomStages[k]).toFixed(1)} ms`;
    zoomLines.push(`| ${n.toExponential(0).replace("e+", "e")} | ${z("plotly")} | ${z("before")} | ${z("call")} | ${z("draw")} | ${z("paint")} | ${z("total")} |`);
  }
  const table = [
    "| N | full range: asked → drawn (median) | 1 % zoom: asked → drawn (median) | 1 % zoom: relayout event → painted (median) | full-range figure: JSON / on the wire (socket) | 1 % zoom figure: JSON / on the wire (socket) | runs |",
    "|---|---|---|---|---|---|---|",
    ...lines,
    "",
    "| N | plotly's own relayout (Plotly.relayout → its event) | event → request sent | request sent → answer in (steps socket) | answer → figure in the DOM (plotly redraw) | DOM → next animation frame | relayout event → painted |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...zoomLines,
  ].join("\n");
  writeFileSync(join(__dirname, "..", "bench-explore.md"), table + "\n");
  console.log("\n" + table);
});

// Make + first draw, the work plotly-resampler's reference does inside its timed click:
// one column of N uniform randoms made and kept on the server, its figure built and
// drawn. On the server's defaults (the shared server), timed in the page from the click
// on "Make" (its event's time) to the first animation frame after the figure is drawn.
// Each click makes a new series (its first draw), replacing the one before.
test("explore: make + first draw", async ({ page }) => {
  const lines: string[] = [];
  const breakdowns: string[] = [];
  // A server on the defaults of its own, logging each step's own time on the server.
  // The roomy server of the test above holds gigabytes of series: not alongside.
  await server?.stop();
  const own = await startServer(process.env.STAYPUT_E2E_PROFILE ?? "release", {
    RUST_LOG: "info,tower_http=warn,app::server::ops=debug",
  });
  makeServer = own;
  const url = own.url;
  const serverMs = (log: string, step: string) =>
    // eslint-disable-next-line no-control-regex
    [...log.replace(/\x1b\[[0-9;]*m/g, "").matchAll(new RegExp(`${step} .*?elapsed_ms=([0-9.]+)`, "g"))].map((m) => Number(m[1]));
  for (const n of [1_000_000, 10_000_000, 100_000_000].filter((n) => n <= MAX_ROWS)) {
    const times: number[] = [];
    const bytes: number[] = [];
    const stages: Record<string, number[]> = {};
    const reps = n >= 100_000_000 ? 5 : 7;
    let first = NaN;
    // One page, Make clicked again and again, as a user (and the reference's bench)
    // does: each click makes a new series, which replaces the page's previous one. The
    // first click on the new page is reported on its own.
    await page.goto(url + "/explore");
    await expect(page.locator("section.explore[data-ready=true]")).toBeVisible();
    await expect(page.locator("[data-testid=figure] .main-svg").first()).toBeAttached();
    await page.getByTestId("series-kind").selectOption("uniform");
    await page.getByTestId("series-rows").selectOption(String(n));
    for (let i = 0; i <= reps; i++) {
      await expect(page.getByTestId("make-series")).toBeEnabled();
      const sizes: Promise<number>[] = [];
      const onFinished = (req: import("@playwright/test").Request) => {
        if (!req.url().includes("/api/")) return;
        sizes.push(req.sizes().then((s) => s.requestHeadersSize + s.requestBodySize + s.responseHeadersSize + s.responseBodySize));
      };
      page.on("requestfinished", onFinished);
      await page.evaluate(() => {
        const w = window as unknown as { __made?: Promise<number> };
        w.__made = new Promise<number>((done) => {
          const figure = document.querySelector("[data-testid=figure]")!;
          const before = figure.getAttribute("data-token");
          let clicked = 0;
          document
            .querySelector("[data-testid=make-series]")!
            .addEventListener("click", (e) => (clicked = e.timeStamp), { capture: true, once: true });
          const watch = new MutationObserver(() => {
            const failed = document.querySelector("[data-testid=error]") !== null;
            if (figure.getAttribute("data-token") !== before || failed) {
              watch.disconnect();
              const inDom = performance.now();
              requestAnimationFrame(() => {
                const painted = performance.now();
                // Where the time went: each server call of the run (Resource Timing, from
                // the click), then the draw until the figure was in the DOM, then the paint.
                const calls = (performance.getEntriesByType("resource") as PerformanceResourceTiming[])
                  .filter((e) => e.name.includes("/api/") && e.startTime >= clicked)
                  .map((e) => ({ name: e.name.split("/api/")[1], start: e.startTime - clicked, end: e.responseEnd - clicked }));
                const last = calls.reduce((m, c) => Math.max(m, c.end), 0);
                (window as unknown as { __stages?: unknown }).__stages = {
                  calls,
                  draw: inDom - clicked - last,
                  paint: painted - inDom,
                };
                done(failed ? NaN : painted - clicked);
              });
            }
          });
          watch.observe(document.body, { attributes: true, childList: true, subtree: true });
        });
      });
      const logged = own.output().length;
      const box = await page.getByTestId("make-series").boundingBox();
      if (!box) throw new Error("no Make button");
      await page.waitForTimeout(THINK_MS);
      await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      const ms = await page.evaluate(() => (window as unknown as { __made: Promise<number> }).__made);
      await expect(page.getByTestId("error")).toHaveCount(0);
      const seen = (await page.evaluate(() => (window as unknown as { __stages: unknown }).__stages)) as {
        calls: { name: string; start: number; end: number }[];
        draw: number;
        paint: number;
      };
      page.off("requestfinished", onFinished);
      const total = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
      if (i === 0) first = ms;
      else {
        times.push(ms);
        bytes.push(total);
        let previous = 0;
        for (const call of seen.calls) {
          // Time before the call started (the page's own work between calls), then the call.
          (stages[`before ${call.name}`] ??= []).push(Math.max(0, call.start - previous));
          (stages[call.name] ??= []).push(call.end - call.start);
          previous = call.end;
        }
        const log = own.output().slice(logged);
        if (!serverMs(log, "create_frame").length || !serverMs(log, "explore_figure").length) {
          throw new Error(`the server's log lacks a step's time for this click:\n${log}`);
        }
        (stages["of which the fill on the server"] ??= []).push(serverMs(log, "create_frame")[0]);
        (stages["of which the figure on the server"] ??= []).push(serverMs(log, "explore_figure")[0]);
        (stages["plotly draw (last answer → figure in the DOM)"] ??= []).push(seen.draw);
        (stages["to the paint (DOM → next animation frame)"] ??= []).push(seen.paint);
      }
    }
    const line = `| ${n.toExponential(0).replace("e+", "e")} | ${median(times).toFixed(1)} ms | ${Math.min(...times).toFixed(1)} – ${Math.max(...times).toFixed(1)} ms | ${first.toFixed(1)} ms | ${(median(bytes) / 1000).toFixed(1)} KB | ${reps} |`;
    console.log(line);
    lines.push(line);
    const breakdown = Object.entries(stages)
      .map(([stage, ms]) => `${stage} ${median(ms).toFixed(1)} ms`)
      .join(" · ");
    console.log(`breakdown ${n}: ${breakdown}`);
    breakdowns.push(`| ${n.toExponential(0).replace("e+", "e")} | ${breakdown} |`);
  }
  const table = [
    "| N (uniform randoms, 1 column) | click on Make → figure painted (median of the clicks after the first) | fastest – slowest | first click on a new page | bytes of a click (all requests) | runs |",
    "|---|---|---|---|---|---|",
    ...lines,
    "",
    `Each click, the first on a new page too, comes ${THINK_MS} ms after the page was ready or the previous figure was painted (a user's pause).`,
    "",
    "| N | where the time went (medians; each server call from its start to its answer's last byte, in the browser) |",
    "|---|---|",
    ...breakdowns,
  ].join("\n");
  writeFileSync(join(__dirname, "..", "bench-explore-make.md"), table + "\n");
  await own.stop();
  console.log("\n" + table);
});
