// /explore past memory, end to end in headless Chromium, on the server's defaults: a
// series of 1e9 uniform randoms made straight into the disk tier, drawn whole, then
// zoomed to 1 % of its rows again and again. Each is timed in the page (the click or
// plotly's relayout event → the first animation frame after the figure is in the DOM)
// and on the server (its own log), while the server's memory (VmRSS, and of it the
// anonymous and the file-backed pages) is sampled every 100 ms from /proc.
// Writes end2end/bench-on-disk.md, the samples as end2end/bench-on-disk-rss.csv and
// their plot as docs/on-disk-rss.svg.
import { expect, test, type Page } from "@playwright/test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, type Running } from "../server";

const ROWS = Number(process.env.STAYPUT_BENCH_DISK_ROWS ?? 1_000_000_000);
const REPS = 7;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (kb: number) => kb / 1024;

type Sample = { t: number; phase: string; rss: number; anon: number; file: number };

function memoryOf(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

async function nextDraw(page: Page, token: number): Promise<number> {
  const figure = page.getByTestId("figure");
  await expect(figure).toHaveAttribute("data-token", String(token), { timeout: 600_000 });
  await expect(page.getByTestId("error")).toHaveCount(0);
  return Number(await figure.getAttribute("data-ms"));
}

// Plotly.relayout(update) on the figure, timed from plotly's relayout event to the first
// animation frame after the re-reduced figure is in the DOM.
async function relayoutToPaint(page: Page, update: Record<string, unknown>): Promise<number> {
  return page.getByTestId("figure").evaluate(async (el, update) => {
    type Plot = HTMLElement & { once: (event: string, f: () => void) => void };
    const before = el.getAttribute("data-token");
    let relayout = NaN;
    (el as Plot).once("plotly_relayout", () => (relayout = performance.now()));
    const painted = new Promise<number>((done) => {
      const watch = new MutationObserver(() => {
        if (el.getAttribute("data-token") === before) return;
        watch.disconnect();
        requestAnimationFrame(() => done(performance.now()));
      });
      watch.observe(el, { attributes: true, attributeFilter: ["data-token"] });
    });
    await (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, update);
    return (await painted) - relayout;
  }, update);
}

let server: Running;
test.afterAll(async () => {
  await server?.stop();
});

test("explore past memory", async ({ page }) => {
  server = await startServer(process.env.STAYPUT_E2E_PROFILE ?? "release", {
    RUST_LOG: "info,tower_http=warn,app::server::ops=debug",
  });
  const pid = server.child.pid!;
  const samples: Sample[] = [];
  const started = Date.now();
  let phase = "idle";
  const sampler = setInterval(() => samples.push({ t: Date.now() - started, phase, ...memoryOf(pid) }), 100);
  const serverMs = (log: string, step: string) =>
    // eslint-disable-next-line no-control-regex
    [...log.replace(/\x1b\[[0-9;]*m/g, "").matchAll(new RegExp(`${step}.*?elapsed_ms=([0-9.]+)`, "g"))].map((m) => Number(m[1]));

  await page.goto(server.url + "/explore");
  await expect(page.locator("section.explore[data-ready=true]")).toBeVisible();
  await expect(page.locator("section.explore[data-steps=socket]")).toBeVisible();
  await page.getByTestId("series-kind").selectOption("uniform");
  // Offered on the defaults, labelled as made on disk.
  await expect(page.getByTestId("series-rows").locator(`option[value="${ROWS}"]`)).toContainText("on disk");
  await page.getByTestId("series-rows").selectOption(String(ROWS));

  console.log("offered; making");
  phase = "make";
  let logged = server.output().length;
  const clicked = Date.now();
  await page.getByTestId("make-series").click();
  await nextDraw(page, 1);
  const makeMs = Date.now() - clicked;
  console.log(`made and drawn in ${makeMs} ms`);
  const madeLog = server.output().slice(logged);
  const written = serverMs(madeLog, "made on disk");
  const firstFigure = serverMs(madeLog, "explore_figure");
  await expect(page.getByTestId("figure")).toContainText(ROWS.toLocaleString("en-US"));

  phase = "figures";
  logged = server.output().length;
  const full: number[] = [];
  const zoom: number[] = [];
  let token = 1;
  // A 1 % zoom somewhere new, then back to the full range (a double click's autorange).
  for (let i = 0; i < REPS; i++) {
    const lo = Math.floor(ROWS * (0.1 + 0.1 * i));
    zoom.push(await relayoutToPaint(page, { "xaxis.range": [lo, lo + ROWS / 100 - 1] }));
    await nextDraw(page, ++token);
    full.push(await relayoutToPaint(page, { "xaxis.autorange": true }));
    await nextDraw(page, ++token);
  }
  const figureMs = serverMs(server.output().slice(logged), "explore_figure");
  const zoomServer = figureMs.filter((_, k) => k % 2 === 0);
  const fullServer = figureMs.filter((_, k) => k % 2 === 1);
  phase = "after";
  await page.waitForTimeout(1_000);
  clearInterval(sampler);

  const peak = (p: string, k: "rss" | "anon" | "file") =>
    mib(Math.max(...samples.filter((s) => s.phase === p).map((s) => s[k])));
  const frameMiB = (ROWS * 8) / 2 ** 20;
  const n = ROWS.toExponential(0).replace("e+", "e");
  const table = [
    `| ${n} uniform randoms, on the defaults (frame ${frameMiB.toFixed(0)} MiB on disk) | median of ${REPS} | fastest – slowest |`,
    "|---|---:|---:|",
    `| Make: click → first figure painted (the frame written to disk, its pyramid built as it goes) | ${makeMs} ms | one run |`,
    `| of which the write on the server (log \`made on disk\`) | ${written[0]?.toFixed(0)} ms | |`,
    `| of which the first figure on the server | ${firstFigure[0]?.toFixed(1)} ms | |`,
    `| full range: relayout event → painted | ${median(full).toFixed(1)} ms | ${Math.min(...full).toFixed(1)} – ${Math.max(...full).toFixed(1)} ms |`,
    `| full range: on the server | ${median(fullServer).toFixed(1)} ms | ${Math.min(...fullServer).toFixed(1)} – ${Math.max(...fullServer).toFixed(1)} ms |`,
    `| 1 % zoom: relayout event → painted | ${median(zoom).toFixed(1)} ms | ${Math.min(...zoom).toFixed(1)} – ${Math.max(...zoom).toFixed(1)} ms |`,
    `| 1 % zoom: on the server | ${median(zoomServer).toFixed(1)} ms | ${Math.min(...zoomServer).toFixed(1)} – ${Math.max(...zoomServer).toFixed(1)} ms |`,
    "",
    "| server memory (peak, /proc every 100 ms) | VmRSS | anonymous (RssAnon) | file-backed (RssFile: the frame's mapped pages) |",
    "|---|---:|---:|---:|",
    ...["idle", "make", "figures"].map(
      (p) => `| ${p} | ${peak(p, "rss").toFixed(0)} MiB | ${peak(p, "anon").toFixed(0)} MiB | ${peak(p, "file").toFixed(0)} MiB |`,
    ),
  ].join("\n");
  console.log("\n" + table);
  writeFileSync(join(__dirname, "..", "bench-on-disk.md"), table + "\n");
  writeFileSync(
    join(__dirname, "..", "bench-on-disk-rss.csv"),
    ["t_ms,phase,vmrss_kib,rss_anon_kib,rss_file_kib", ...samples.map((s) => `${s.t},${s.phase},${s.rss},${s.anon},${s.file}`)].join("\n") + "\n",
  );
  writeFileSync(join(__dirname, "..", "..", "docs", "on-disk-rss.svg"), plot(samples, `${n} rows made on disk, drawn and zoomed`));
});

/** The samples as an SVG line plot: VmRSS, RssAnon and RssFile (MiB) over time (s). */
function plot(samples: Sample[], title: string): string {
  const w = 720, h = 300, left = 60, bottom = 40, top = 30;
  const tMax = Math.max(...samples.map((s) => s.t), 1);
  const yMax = Math.max(...samples.map((s) => mib(s.rss)), 1) * 1.1;
  const x = (t: number) => left + ((w - left - 10) * t) / tMax;
  const y = (v: number) => h - bottom - ((h - bottom - top) * v) / yMax;
  const line = (k: "rss" | "anon" | "file", colour: string) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${samples.map((s) => `${x(s.t).toFixed(1)},${y(mib(s[k])).toFixed(1)}`).join(" ")}"/>`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = yMax * f;
    return `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v.toFixed(0)}</text><line x1="${left}" x2="${w - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`;
  });
  const phases = samples
    .filter((s, i) => i === 0 || samples[i - 1].phase !== s.phase)
    .map((s) => `<line x1="${x(s.t)}" x2="${x(s.t)}" y1="${top}" y2="${h - bottom}" stroke="#999" stroke-dasharray="3"/><text x="${x(s.t) + 3}" y="${top + 12}" font-size="11">${s.phase}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">`,
    `<text x="${left}" y="18" font-size="13">${title}: server memory, MiB, over ${(tMax / 1000).toFixed(0)} s</text>`,
    ...ticks,
    ...phases,
    line("rss", "#1f77b4"),
    line("anon", "#d62728"),
    line("file", "#2ca02c"),
    `<text x="${w - 260}" y="${h - 12}" font-size="11"><tspan fill="#1f77b4">VmRSS</tspan>  <tspan fill="#d62728">anonymous</tspan>  <tspan fill="#2ca02c">file-backed (mapped frame)</tspan></text>`,
    "</svg>",
  ].join("\n") + "\n";
}
