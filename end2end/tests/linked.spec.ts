import { expect, test, type Locator, type Page } from "@playwright/test";
import { baseUrl } from "./helpers";

/** Drags a box across `fraction` ([from, to] of the width) of the plot area in `plot`,
 * the whole height: a user's brush. */
async function brush(page: Page, plot: Locator, [from, to]: [number, number]): Promise<void> {
  const area = plot.locator(".nsewdrag").first();
  await expect(area).toBeVisible();
  await area.scrollIntoViewIfNeeded();
  const box = await area.boundingBox();
  if (!box) throw new Error("the plot has no drag area");
  const y0 = box.y + box.height * 0.1;
  const y1 = box.y + box.height * 0.9;
  await page.mouse.move(box.x + box.width * from, y0);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * ((from + to) / 2), (y0 + y1) / 2, { steps: 5 });
  await page.mouse.move(box.x + box.width * to, y1, { steps: 5 });
  await page.mouse.up();
}

/** Rows a figure's caption says it drew from ("… points of N rows"). */
async function rowsOf(page: Page, i: number): Promise<number> {
  const text = (await page.getByTestId(`linked-note-${i}`).textContent()) ?? "";
  const match = text.match(/of ([\d,]+) rows/);
  if (!match) throw new Error(`no row count in ${JSON.stringify(text)}`);
  return Number(match[1].replaceAll(",", ""));
}

async function openLinked(page: Page): Promise<void> {
  await page.getByTestId("open-linked").click();
  await expect(page.locator("section.linked[data-ready=true]")).toBeVisible();
}

test("brushing a histogram re-aggregates the linked line on the server; a reload keeps the view; another session sees nothing", async ({ page, browser }) => {
  await page.goto(baseUrl() + "/explore");
  await expect(page.locator("section.explore[data-ready=true]")).toBeVisible();
  await page.getByTestId("series-rows").selectOption("100000");
  await page.getByTestId("make-series").click();
  await expect(page.getByTestId("figure")).toHaveAttribute("data-token", "1", { timeout: 60_000 });
  await openLinked(page);
  // A line of walk over time, histograms of walk and of a second column.
  await expect(page.getByTestId("linked-note-0")).toContainText("of 100,000 rows");
  await expect(page.getByTestId("linked-note-1")).toContainText("of 100,000 rows");
  const lineJson: string[] = [];
  page.on("response", async (res) => {
    if (res.url().endsWith("/api/linked_figures")) lineJson.push(await res.text());
  });

  await brush(page, page.getByTestId("linked-1"), [0.3, 0.5]);
  await expect(page.getByTestId("selection-1")).toContainText("walk in [");
  await expect(page.getByTestId("linked-note-0")).not.toContainText("of 100,000 rows");
  const kept = await rowsOf(page, 0);
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(100_000);
  // The histogram brushed keeps every row; only figure JSON crossed, no row ids.
  await expect(page.getByTestId("linked-note-1")).toContainText("of 100,000 rows");
  expect(lineJson.length).toBeGreaterThan(0);
  for (const body of lineJson) expect(body.length).toBeLessThan(100_000);

  // Zoom the line: the histogram over the same time axis follows.
  const before = await rowsOf(page, 1);
  await page.getByTestId("linked-0").evaluate((el) => {
    const plot = el as unknown as { layout: { xaxis: { range: (string | number)[] } } };
    const [lo, hi] = plot.layout.xaxis.range.map((v) => (typeof v === "number" ? v : Date.parse(String(v).replace(" ", "T") + "Z")));
    const iso = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
    return (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, {
      "xaxis.range": [iso(lo), iso(lo + (hi - lo) / 10)],
    });
  });
  await expect.poll(() => rowsOf(page, 1)).toBeLessThan(before);
  const zoomed = await rowsOf(page, 1);

  // The URL holds the view: a reload shows the same selection, zoom and counts.
  const url = page.url();
  expect(url).toContain("view=");
  await page.reload();
  await expect(page.locator("section.linked[data-ready=true]")).toBeVisible();
  await expect(page.getByTestId("selection-1")).toContainText("walk in [");
  await expect.poll(() => rowsOf(page, 1).catch(() => -1)).toBe(zoomed);

  // Clearing the selection brings every row back to the line (over the zoomed range).
  await page.getByTestId("clear-selections").click();
  await expect(page.getByTestId("selection-1")).toHaveCount(0);
  await expect.poll(() => rowsOf(page, 0).catch(() => -1)).toBe(zoomed);

  // The same URL in another session: an unknown handle, nothing drawn.
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  await other.goto(url);
  await expect(other.getByTestId("error")).toContainText("unknown or expired data");
  await expect(other.getByTestId("linked-note-0")).toHaveCount(0);
  await stranger.close();
});

test("an upload's bars picked filter the other figures, and keeping the selection makes a step; /cache opens every frame", async ({ page }) => {
  await page.goto(baseUrl() + "/data");
  await expect(page.locator("section.data[data-ready=true]")).toBeVisible();
  const lines = ["id,city,temp"];
  for (let i = 0; i < 900; i++) lines.push(`r${i},${["Oslo", "Rome", "Lima"][i % 3]},${i % 50}`);
  await page.getByTestId("upload").setInputFiles({ name: "cities.csv", mimeType: "text/csv", buffer: Buffer.from(lines.join("\n") + "\n") });
  await expect(page.getByTestId("shape")).toHaveText("900 rows × 3 columns");
  await openLinked(page);
  await expect(page.getByTestId("linked-note-0")).toContainText("of 900 rows");

  // Bars of city, added with the form: Lima, Oslo, Rome (300 rows each, by name).
  await page.getByTestId("add-kind").selectOption("bar");
  await page.getByTestId("add-x").selectOption("city");
  await page.getByTestId("add-figure").click();
  const bars = page.getByTestId("linked-3");
  await expect(page.getByTestId("linked-note-3")).toContainText("3 points of 900 rows");
  await brush(page, bars, [0.01, 0.3]);
  await expect(page.getByTestId("selection-3")).toHaveText(/city = Lima/);
  await expect(page.getByTestId("linked-note-0")).toContainText("of 300 rows");

  await page.getByTestId("keep-selection").click();
  await expect(page.getByTestId("linked-frame")).toContainText("300 rows");
  await expect(page.getByTestId("selections").locator("li")).toHaveCount(0);
  await expect(page.getByTestId("linked-note-0")).toContainText("of 300 rows");

  // /cache links every frame: the kept one opens in /data with its step in the chain.
  await page.goto(baseUrl() + "/cache");
  const kept = page.getByTestId("cache-entry").filter({ hasText: "300 ×" });
  await kept.getByTestId("open").click();
  await expect(page.getByTestId("shape")).toHaveText("300 rows × 3 columns");
  await expect(page.getByTestId("breadcrumb")).toContainText("keep city = Lima");
  // The URL names the frame and the figure plotted: a reload shows both again.
  await page.getByTestId("plot-x").selectOption("temp");
  await page.getByTestId("plot-kind").selectOption("histogram");
  await page.getByTestId("apply-plot").click();
  await expect(page.getByTestId("plot-note")).toContainText("of 300 rows");
  expect(page.url()).toContain("plot=");
  await page.reload();
  await expect(page.getByTestId("shape")).toHaveText("300 rows × 3 columns");
  await expect(page.getByTestId("plot-note")).toContainText("of 300 rows");
  await expect(page.getByTestId("plot-kind")).toHaveValue("histogram");
});
