// /explore end to end, in headless Chromium: for each N, the time from asking for a
// figure to it being drawn (the page's `data-ms`: request, server reduction, transfer,
// plotly draw), for the full range and for a 1 % zoom, and the bytes of each figure
// response. Prints a Markdown table and writes it to end2end/bench-explore.md.
import { expect, test, type Page } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, type Running } from "../server";

const SIZES = [100_000, 1_000_000, 10_000_000, 100_000_000];
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
test.afterAll(async () => {
  await server?.stop();
});

test("explore", async ({ page }) => {
  const lines: string[] = [];
  for (const n of SIZES) {
    // Each figure response's body as JSON (decoded) and as it crossed the wire (gzip),
    // filed under the kind of redraw that asked for it.
    type Sizes = { raw: number[]; wire: number[] };
    const sizes = { full: { raw: [], wire: [] } as Sizes, zoom: { raw: [], wire: [] } as Sizes };
    let current = sizes.full;
    page.removeAllListeners("response");
    page.on("response", async (res) => {
      if (!res.url().endsWith("/api/explore_figure")) return;
      const into = current;
      into.raw.push((await res.body()).length);
      into.wire.push((await res.request().sizes()).responseBodySize);
    });
    await page.goto(server.url + "/explore");
    await expect(page.locator("section.explore[data-ready=true]")).toBeVisible();
    await page.getByTestId("series-rows").selectOption(String(n));
    await page.getByTestId("make-series").click();
    let token = 1;
    await nextDraw(page, token);
    const full: number[] = [];
    const zoom: number[] = [];
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
      await page.getByTestId("figure").evaluate(
        (el, [lo, hi]) => (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, { "xaxis.range": [lo, hi] }),
        [lo, hi],
      );
      zoom.push(await nextDraw(page, ++token));
    }
    const kb = (b: number) => `${(b / 1000).toFixed(1)} KB`;
    const both = (x: Sizes) => `${kb(median(x.raw))} / ${kb(median(x.wire))}`;
    const line = `| ${n.toExponential(0).replace("e+", "e")} | ${median(full).toFixed(1)} ms | ${median(zoom).toFixed(1)} ms | ${both(sizes.full)} | ${both(sizes.zoom)} | ${REPS} |`;
    console.log(line);
    lines.push(line);
  }
  const table = [
    "| N | full range: asked → drawn (median) | 1 % zoom: asked → drawn (median) | full-range figure: JSON / on the wire | 1 % zoom figure: JSON / on the wire | runs |",
    "|---|---|---|---|---|---|",
    ...lines,
  ].join("\n");
  writeFileSync(join(__dirname, "..", "bench-explore.md"), table + "\n");
  console.log("\n" + table);
});
