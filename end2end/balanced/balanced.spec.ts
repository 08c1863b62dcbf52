// One browser session through the round-robin balancer: the benchmark, /explore and
// /data, with requests answered by both servers (HAProxy names the one that answered).
import { expect, test, type Page } from "@playwright/test";
import { baseUrl, openBenchmark, runBenchmark } from "../tests/helpers";

/** The servers that answered `page`'s server-function calls, from now on. */
function answeredBy(page: Page): Set<string> {
  const seen = new Set<string>();
  page.on("response", (res) => {
    const server = res.headers()["x-stayput-server"];
    if (server && res.url().includes("/api/")) seen.add(server);
  });
  return seen;
}

test("one session through the balancer: benchmark, explore and data, answered by both servers", async ({ page }) => {
  const servers = answeredBy(page);

  // The benchmark: frames made and read on the steps socket's server, the histogram over
  // HTTP from either.
  await openBenchmark(page);
  for (const rows of [1_000_000, 1_000, 100_000]) {
    const run = await runBenchmark(page, rows, "server");
    expect(run.mean).toBeGreaterThan(0.45);
    expect(run.mean).toBeLessThan(0.55);
  }
  await expect(page.getByTestId("histogram").locator(".bars path")).toHaveCount(50);

  // /explore: the series made on one server, drawn and zoomed on either.
  await page.goto(baseUrl() + "/explore");
  await expect(page.locator("section.explore[data-ready=true]")).toBeVisible();
  await page.getByTestId("series-rows").selectOption("1000000");
  await page.getByTestId("make-series").click();
  const figure = page.getByTestId("figure");
  await expect(figure).toHaveAttribute("data-token", "1", { timeout: 60_000 });
  await expect(figure).toHaveAttribute("data-rows", "1000000");
  await expect(figure.locator(".scatterlayer .trace")).toHaveCount(1);

  // /data: an upload kept in the shared directory, transformed and paged on either.
  await page.goto(baseUrl() + "/data");
  await expect(page.locator("section.data[data-ready=true]")).toBeVisible();
  const lines = ["city,temp"];
  for (let i = 0; i < 600; i++) lines.push(`${["Oslo", "Rome", "Lima"][i % 3]},${(i % 40) / 2}`);
  await page.getByTestId("upload").setInputFiles({ name: "cities.csv", mimeType: "text/csv", buffer: Buffer.from(lines.join("\n") + "\n") });
  await expect(page.getByTestId("shape")).toHaveText("600 rows × 2 columns");
  await page.getByTestId("filter-column").selectOption("temp");
  await page.getByTestId("filter-op").selectOption({ label: "≥" });
  await page.getByTestId("filter-value").fill("10");
  await page.getByTestId("apply-filter").click();
  await expect(page.getByTestId("shape")).toHaveText("300 rows × 2 columns");
  await page.getByTestId("next-page").click();
  await expect(page.getByTestId("position")).toContainText("rows 51–100 of 300");

  expect([...servers].sort()).toEqual(["s1", "s2"]);
});
