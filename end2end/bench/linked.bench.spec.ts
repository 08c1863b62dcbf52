// /linked end to end, in headless Chromium: the time a user waits in a linked view of the
// random walk (a line of walk over time, histograms of walk and sine: three figures), on
// the page's own clock:
// - brush → line painted: from plotly's `plotly_selected` (a real mouse drag on the walk
//   histogram, released) to the first animation frame after the re-aggregated line is
//   drawn;
// - 1 % zoom → painted: from plotly's `plotly_relayout` on the line to the same point for
//   the line (the histograms over the same time axis follow in the same request).
// Prints a Markdown table and writes it to end2end/bench-linked.md.
import { expect, test, type Page } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, type Running } from "../server";

const MAX_ROWS = Number(process.env.STAYPUT_BENCH_MAX_ROWS ?? Infinity);
const SIZES = [1_000_000, 10_000_000, 100_000_000].filter((n) => n <= MAX_ROWS);
const REPS = 7;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Its own server, as /explore's bench: the 1e8-row series is 3.2 GB.
let server: Running;
test.beforeAll(async () => {
  server = await startServer(process.env.STAYPUT_E2E_PROFILE ?? "release", {
    STAYPUT_MEMORY_BUDGET: "12GiB",
    STAYPUT_SESSION_QUOTA: "8GiB",
  });
});
test.afterAll(async () => server?.stop());

/** Milliseconds from the newest mark `from` to the newest `stayput:painted-0`. */
async function since(page: Page, from: string): Promise<number> {
  return page.evaluate((from) => {
    const at = (name: string) => performance.getEntriesByName(name).at(-1)?.startTime ?? NaN;
    return at("stayput:painted-0") - at(from);
  }, from);
}

async function nextDraw(page: Page, before: string | null): Promise<void> {
  const line = page.getByTestId("linked-0");
  await expect(line).not.toHaveAttribute("data-draws", before ?? "", { timeout: 300_000 });
  await page.waitForTimeout(100); // its paint mark comes a frame later
}

test("linked", async ({ page }) => {
  test.setTimeout(1_800_000);
  const lines: string[] = [];
  for (const n of SIZES) {
    await page.goto(server.url + "/explore");
    await expect(page.locator("section.explore[data-ready=true]")).toBeVisible();
    await page.getByTestId("series-rows").selectOption(String(n));
    await page.getByTestId("make-series").click();
    await expect(page.getByTestId("figure")).toHaveAttribute("data-token", "1", { timeout: 300_000 });
    await page.getByTestId("open-linked").click();
    await expect(page.getByTestId("linked-0")).toHaveAttribute("data-draws", /\d+/, { timeout: 300_000 });
    await expect(page.getByTestId("linked-note-2")).toContainText("rows");
    const brush: number[] = [];
    const zoom: number[] = [];
    const hist = page.getByTestId("linked-1").locator(".nsewdrag").first();
    for (let i = 0; i < REPS; i++) {
      await hist.scrollIntoViewIfNeeded();
      const box = (await hist.boundingBox())!;
      const before = await page.getByTestId("linked-0").getAttribute("data-draws");
      const from = 0.15 + 0.05 * i;
      await page.mouse.move(box.x + box.width * from, box.y + box.height * 0.1);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * (from + 0.2), box.y + box.height * 0.9, { steps: 4 });
      await page.mouse.up();
      await nextDraw(page, before);
      brush.push(await since(page, "stayput:selected"));
    }
    for (let i = 0; i < REPS; i++) {
      const before = await page.getByTestId("linked-0").getAttribute("data-draws");
      await page.getByTestId("linked-0").evaluate((el, [n, i]) => {
        const start = 1_704_067_200_000;
        const lo = start + Math.floor(n * (0.1 + 0.1 * i)) * 1000;
        const iso = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
        return (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, {
          "xaxis.range": [iso(lo), iso(lo + n * 10)],
        });
      }, [n, i]);
      await nextDraw(page, before);
      zoom.push(await since(page, "stayput:relayout"));
    }
    const row = `| ${n.toExponential(0)} | ${median(brush).toFixed(1)} | ${median(zoom).toFixed(1)} |`;
    console.log(row, "brush", brush.map((v) => v.toFixed(0)).join(" "), "zoom", zoom.map((v) => v.toFixed(0)).join(" "));
    lines.push(row);
  }
  const table = [
    "| rows | brush → line painted (ms, median of 7) | 1 % zoom → line painted (ms, median of 7) |",
    "|---:|---:|---:|",
    ...lines,
  ].join("\n");
  console.log("\n" + table);
  writeFileSync(join(__dirname, "..", "bench-linked.md"), table + "\n");
});
