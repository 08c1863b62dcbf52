import { expect, test, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { baseUrl } from "./helpers";

/** A CSV of `rows` rows with a unique id per row (`r00001`…), a date, a city and a temperature. */
function fixture(rows: number): string {
  const cities = ["Oslo", "Rome", "Lima"];
  const lines = ["id,date,city,temp"];
  for (let i = 0; i < rows; i++) {
    const day = String(1 + (i % 28)).padStart(2, "0");
    const month = String(1 + (Math.floor(i / 28) % 12)).padStart(2, "0");
    lines.push(`r${String(i).padStart(5, "0")},2020-${month}-${day},${cities[i % 3]},${(i % 40) / 2}`);
  }
  return lines.join("\n") + "\n";
}

async function openData(page: Page): Promise<void> {
  await page.goto(baseUrl() + "/data");
  await expect(page.locator("section.data[data-ready=true]")).toBeVisible();
}

/** The most fixture rows (ids) any response of the server function API carried. */
function rowsPerResponse(page: Page): number[] {
  const counts: number[] = [];
  page.on("response", async (res) => {
    const url = res.url();
    if (!url.includes("/api/") || url.includes("/api/download")) return;
    const body = await res.body().catch(() => Buffer.alloc(0));
    counts.push((body.toString("utf8").match(/r\d{5}/g) ?? []).length);
  });
  return counts;
}

test("upload a CSV with the file chooser: schema, a page of rows, filter, group, plot, download", async ({ page }) => {
  await openData(page);
  const counts = rowsPerResponse(page);
  const csv = fixture(2_000);
  await page.getByTestId("upload").setInputFiles({ name: "cities.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await expect(page.getByTestId("progress")).toContainText("Done");
  await expect(page.getByTestId("shape")).toHaveText("2,000 rows × 4 columns");
  const schema = page.getByTestId("schema");
  await expect(schema).toContainText("date");
  await expect(schema.locator("tbody tr")).toHaveCount(4);
  await expect(schema.locator("tbody tr").nth(3)).toContainText("f64");
  const rows = page.getByTestId("rows");
  await expect(rows.locator("tbody tr")).toHaveCount(50);
  await expect(rows.locator("tbody tr").first()).toContainText("r00000");

  // Sorting the table asks the server.
  await rows.locator("thead button", { hasText: "temp" }).click();
  await rows.locator("thead button", { hasText: "temp" }).click();
  await expect(rows.locator("tbody tr").first()).toContainText("19.5");
  // The next page comes from the server too.
  await page.getByTestId("next-page").click();
  await expect(page.getByTestId("position")).toContainText("rows 51–100 of 2,000");

  // A step the server refuses (a number column against a word) says why, and changes
  // nothing; the next step clears the message.
  await page.getByTestId("filter-column").selectOption("temp");
  await page.getByTestId("filter-op").selectOption({ label: "≥" });
  await page.getByTestId("filter-value").fill("warm");
  await page.getByTestId("apply-filter").click();
  await expect(page.getByTestId("error")).toContainText("temp");
  await expect(page.getByTestId("shape")).toHaveText("2,000 rows × 4 columns");

  // Filter: temp ≥ 10 keeps half.
  await page.getByTestId("filter-column").selectOption("temp");
  await page.getByTestId("filter-op").selectOption({ label: "≥" });
  await page.getByTestId("filter-value").fill("10");
  await page.getByTestId("apply-filter").click();
  await expect(page.getByTestId("shape")).toHaveText("1,000 rows × 4 columns");
  await expect(page.getByTestId("error")).toHaveCount(0);
  // Group by city: three rows of mean temperatures.
  await page.getByTestId("group-key").selectOption("city");
  await page.getByTestId("group-fn").selectOption("mean");
  await page.getByTestId("group-column").selectOption("temp");
  await page.getByTestId("apply-group").click();
  await expect(page.getByTestId("shape")).toHaveText("3 rows × 2 columns");
  await expect(page.getByTestId("breadcrumb")).toContainText("upload cities.csv → filter temp ≥ 10 → group by city: mean(temp)");

  // Back to the upload through the breadcrumb, then plot temp over date.
  await page.getByTestId("breadcrumb").getByRole("button", { name: "upload cities.csv" }).click();
  await expect(page.getByTestId("shape")).toHaveText("2,000 rows × 4 columns");
  await page.getByTestId("plot-x").selectOption("date");
  await page.getByTestId("plot-y").selectOption("temp");
  await page.getByTestId("apply-plot").click();
  await expect(page.getByTestId("plot-note")).toContainText("of 2,000 rows");
  await expect(page.getByTestId("plot").locator(".scatterlayer .trace")).toHaveCount(1);
  // A zoom asks the server for the visible range, re-reduced.
  await page.getByTestId("plot").evaluate((el) =>
    (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, {
      "xaxis.range": ["2020-01-01", "2020-01-10"],
    }),
  );
  await expect(page.getByTestId("plot-note")).not.toContainText("of 2,000 rows");
  await expect(page.getByTestId("plot-note")).toContainText(/points drawn of \d+ rows/);

  // Download: the one time the data leaves, because it was asked for.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-csv").click()]);
  const text = readFileSync(await download.path(), "utf8");
  expect(text.split("\n")[0]).toBe("id,date,city,temp");
  expect(text.trim().split("\n")).toHaveLength(2_001);

  // No answer but the download carried more than a page of rows.
  expect(counts.length).toBeGreaterThan(5);
  expect(Math.max(...counts)).toBeLessThanOrEqual(50);
});

test("pages clicked back to back, no pause: each click pages from the page on show; a reload keeps the frame; another session reads it as unknown", async ({ page, browser }) => {
  await openData(page);
  await page.getByTestId("upload").setInputFiles({ name: "pages.csv", mimeType: "text/csv", buffer: Buffer.from(fixture(500)) });
  await expect(page.getByTestId("shape")).toHaveText("500 rows × 4 columns");
  const rows = page.getByTestId("rows");
  await expect(rows.locator("tbody tr").first()).toContainText("r00000");
  // Three clicks with no pause: while a page is on its way the button is disabled (busy),
  // and each click that lands pages from the page on show, never from a stale one.
  for (let i = 0; i < 3; i++) await page.getByTestId("next-page").click();
  await expect(page.getByTestId("position")).toHaveText("rows 151–200 of 500");
  await expect(rows.locator("tbody tr").first()).toContainText("r00150");
  // A sort goes back to the first page, in the new order.
  await rows.locator("thead button", { hasText: "id" }).click();
  await rows.locator("thead button", { hasText: "id" }).click();
  await expect(page.getByTestId("position")).toHaveText("rows 1–50 of 500");
  await expect(rows.locator("tbody tr").first()).toContainText("r00499");

  // The frame on show is in the URL: a reload shows it again.
  expect(page.url()).toMatch(/[?&]h=/);
  await page.reload();
  await expect(page.getByTestId("shape")).toHaveText("500 rows × 4 columns");
  await expect(page.getByTestId("name")).toHaveText("pages.csv");

  // The same URL in another session: an unknown handle, nothing of the frame shown.
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  await other.goto(page.url());
  await expect(other.getByTestId("error")).toContainText("unknown or expired data");
  await expect(other.getByTestId("shape")).toHaveCount(0);
  await stranger.close();
});

test("a malformed CSV gets a message with its line; the session's data is untouched", async ({ page }) => {
  await openData(page);
  await page.getByTestId("upload").setInputFiles({ name: "ok.csv", mimeType: "text/csv", buffer: Buffer.from("a,b\n1,2\n") });
  await expect(page.getByTestId("shape")).toHaveText("1 rows × 2 columns");
  await page.getByTestId("upload").setInputFiles({
    name: "ragged.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("a,b\n1,2\n3,4,5\n"),
  });
  await expect(page.getByTestId("error")).toContainText("line 3: 3 fields where the header has 2");
  await expect(page.getByTestId("error")).not.toContainText(/panic|\/tmp|src\//);
  await expect(page.getByTestId("shape")).toHaveText("1 rows × 2 columns");
});

test("a gzip'd CSV (vega-datasets' Seattle weather) uploads as its CSV, unpacked on the server", async ({ page }) => {
  await openData(page);
  const csv = readFileSync(join(__dirname, "..", "..", "public", "examples", "seattle-weather.csv"));
  const packed = gzipSync(csv);
  expect(packed.length).toBeLessThan(csv.length / 2);
  await page.getByTestId("upload").setInputFiles({
    name: "seattle-weather.csv.gz",
    mimeType: "application/gzip",
    buffer: packed,
  });
  await expect(page.getByTestId("progress")).toContainText("Done");
  await expect(page.getByTestId("shape")).toHaveText("1,461 rows × 6 columns");
  await expect(page.getByTestId("schema")).toContainText("weather");
  await expect(page.getByTestId("rows").locator("tbody tr").first()).toContainText("2012-01-01");
});

test("a JSON file of records (vega-datasets' cars) uploads with its types", async ({ page }) => {
  await openData(page);
  const cars = readFileSync(join(__dirname, "..", "..", "node_modules", "vega-datasets", "data", "cars.json"));
  await page.getByTestId("upload").setInputFiles({ name: "cars.json", mimeType: "application/json", buffer: cars });
  await expect(page.getByTestId("progress")).toContainText("Done");
  await expect(page.getByTestId("shape")).toHaveText("406 rows × 9 columns");
  await expect(page.getByTestId("schema")).toContainText("Horsepower");
  await expect(page.getByTestId("rows").locator("tbody tr").first()).toContainText("chevrolet chevelle malibu");
});

test("an Excel workbook uploads with its dates, and a chosen sheet", async ({ page }) => {
  await openData(page);
  const book = readFileSync(join(__dirname, "..", "..", "data", "tests", "fixtures", "seattle-weather.xlsx"));
  const xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  await page.getByTestId("upload").setInputFiles({ name: "seattle-weather.xlsx", mimeType: xlsx, buffer: book });
  await expect(page.getByTestId("progress")).toContainText("Done");
  await expect(page.getByTestId("shape")).toHaveText("28 rows × 9 columns");
  await expect(page.getByTestId("schema")).toContainText("warm");
  await expect(page.getByTestId("rows").locator("tbody tr").first()).toContainText("2012-01-01");
  // The second sheet, by name.
  await page.getByTestId("sheet").fill("Totals");
  await page.getByTestId("upload").setInputFiles({ name: "seattle-weather.xlsx", mimeType: xlsx, buffer: book });
  await expect(page.getByTestId("shape")).toHaveText("3 rows × 2 columns");
  await expect(page.getByTestId("rows").locator("tbody tr").first()).toContainText("28");
});

test("the flights example (three million rows) opens and plots", async ({ page }) => {
  await openData(page);
  await page.getByTestId("example-flights-3m.parquet").click();
  await expect(page.getByTestId("shape")).toHaveText("3,000,000 rows × 5 columns", { timeout: 60_000 });
  await expect(page.getByTestId("schema")).toContainText("delay");
  await page.getByTestId("plot-x").selectOption("date");
  await page.getByTestId("plot-y").selectOption("delay");
  await page.getByTestId("apply-plot").click();
  await expect(page.getByTestId("plot-note")).toContainText("of 3,000,000 rows", { timeout: 60_000 });
  await expect(page.getByTestId("plot").locator(".scatterlayer .trace")).toHaveCount(1);
});
