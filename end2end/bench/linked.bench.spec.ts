// /linked end to end, in headless Chromium: the time a user waits in a linked view of the
// random walk (a line of walk over time, histograms of walk and sine: three figures), on
// the page's own clock:
// - brush → line painted: from plotly's `plotly_selected` (a real mouse drag on the walk
//   histogram, released) to the first animation frame after the re-aggregated line is
//   drawn;
// - 1 % zoom → painted: from plotly's `plotly_relayout` on the line to the same point for
//   the line (the histograms over the same time axis follow in the same request);
// - each also to every redrawn figure painted (the page draws the line first and lets it
//   paint before it draws the histograms).
// Prints a Markdown table and writes it to end2end/bench-linked.md.
import { expect, test, type Page } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Running } from "../server";
import { drag, makeSeries, median, REPS, SIZES, startRoomyServer } from "./series";

let server: Running;
test.beforeAll(async () => {
  server = await startRoomyServer();
});
test.afterAll(async () => server?.stop());

/** Milliseconds from the newest mark `from` to the newest `stayput:painted-0`, and to
 * the last paint of a figure redrawn since (NaN when there is none). */
async function since(page: Page, from: string): Promise<[number, number]> {
  return page.evaluate((from) => {
    const at = (name: string) => performance.getEntriesByName(name).at(-1)?.startTime ?? NaN;
    const start = at(from);
    const after = [0, 1, 2].map((i) => at(`stayput:painted-${i}`)).filter((t) => t > start);
    return [at("stayput:painted-0") - start, after.length ? Math.max(...after) - start : NaN];
  }, from);
}

/** When the newest mark `name` was made (-1 when there is none). */
async function markedAt(page: Page, name: string): Promise<number> {
  return page.evaluate((name) => performance.getEntriesByName(name).at(-1)?.startTime ?? -1, name);
}

/** Waits for a gesture's start mark `from` newer than `before` (plotly may report a
 * gesture after the input that made it has returned), then until the line and figure
 * `also` have both been painted since. */
async function nextDraw(page: Page, from: string, before: number, also: number): Promise<void> {
  await page.waitForFunction(
    ([from, before, also]) => {
      const at = (name: string) => performance.getEntriesByName(name).at(-1)?.startTime ?? NaN;
      const start = at(from as string);
      return start > (before as number) && at("stayput:painted-0") > start && at(`stayput:painted-${also}`) > start;
    },
    [from, before, also] as const,
    { timeout: 300_000 },
  );
}

test("linked", async ({ page }) => {
  test.setTimeout(1_800_000);
  const lines: string[] = [];
  for (const n of SIZES) {
    await makeSeries(page, server.url, n);
    await page.getByTestId("open-linked").click();
    await expect(page.getByTestId("linked-0")).toHaveAttribute("data-draws", /\d+/, { timeout: 300_000 });
    await expect(page.getByTestId("linked-note-2")).toContainText("rows");
    const brush: [number, number][] = [];
    const zoom: [number, number][] = [];
    for (let i = 0; i < REPS; i++) {
      const before = await markedAt(page, "stayput:selected");
      await drag(page, '[data-testid="linked-1"] .nsewdrag', i);
      await nextDraw(page, "stayput:selected", before, 2);
      brush.push(await since(page, "stayput:selected"));
    }
    for (let i = 0; i < REPS; i++) {
      const before = await markedAt(page, "stayput:relayout");
      await page.getByTestId("linked-0").evaluate((el, [n, i]) => {
        const start = 1_704_067_200_000;
        const lo = start + Math.floor(n * (0.1 + 0.1 * i)) * 1000;
        const iso = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
        return (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, {
          "xaxis.range": [iso(lo), iso(lo + n * 10)],
        });
      }, [n, i]);
      await nextDraw(page, "stayput:relayout", before, 2);
      zoom.push(await since(page, "stayput:relayout"));
    }
    const med = (xs: [number, number][], k: 0 | 1) => median(xs.map((x) => x[k])).toFixed(1);
    const row = `| ${n.toExponential(0)} | ${med(brush, 0)} | ${med(brush, 1)} | ${med(zoom, 0)} | ${med(zoom, 1)} |`;
    const all = (xs: [number, number][]) => xs.map(([a, b]) => `${a.toFixed(0)}/${b.toFixed(0)}`).join(" ");
    console.log(row, "brush", all(brush), "zoom", all(zoom));
    lines.push(row);
  }
  const table = [
    "| rows | brush → line painted (ms, median of 7) | → every figure painted | 1 % zoom → line painted | → every figure painted |",
    "|---:|---:|---:|---:|---:|",
    ...lines,
  ].join("\n");
  console.log("\n" + table);
  writeFileSync(join(__dirname, "..", "bench-linked.md"), table + "\n");
});
