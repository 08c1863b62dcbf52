// /explore past memory, on a server of its own with 64 MiB of memory (a frame may hold
// 32 MiB, 4,194,304 uniform randoms) and 256 MiB of disk: 1e7 uniform randoms (80 MB) are
// offered as made on disk, made, drawn from the mapped file and zoomed; /cache lists the
// frame on disk. The same path as 1e9 rows on the defaults (`scripts/bench on_disk`).
import { expect, test } from "@playwright/test";
import { startServer, type Running } from "../server";

let server: Running;
test.beforeAll(async () => {
  server = await startServer(process.env.STAYPUT_E2E_PROFILE ?? "debug", {
    STAYPUT_MEMORY_BUDGET: "64MiB",
    STAYPUT_DISK_BUDGET: "256MiB",
  });
});
test.afterAll(async () => {
  await server?.stop();
});

test("uniform randoms past memory are made on disk, drawn and zoomed", async ({ page }) => {
  await page.goto(server.url + "/explore");
  await expect(page.locator("section.explore[data-ready=true]")).toBeVisible();
  await expect(page.locator("section.explore[data-steps=socket]")).toBeVisible();
  await page.getByTestId("series-kind").selectOption("uniform");
  const rows = page.getByTestId("series-rows");
  await expect(rows.locator("option[value='1000000']")).not.toContainText("on disk");
  await expect(rows.locator("option[value='10000000']")).toContainText("(on disk)");
  await expect(rows.locator("option[value='100000000']"), "past the disk budget: not offered").toHaveCount(0);
  await rows.selectOption("10000000");
  await page.getByTestId("make-series").click();
  const figure = page.getByTestId("figure");
  await expect(figure).toHaveAttribute("data-token", "1", { timeout: 120_000 });
  await expect(figure).toHaveAttribute("data-rows", "10000000");
  await expect(page.getByTestId("reduction")).toContainText("of 10,000,000 points");
  await expect(page.getByTestId("error")).toHaveCount(0);

  // A 1 % zoom: re-reduced on the server from the mapped file.
  await figure.evaluate((el) =>
    (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, { "xaxis.range": [5_000_000, 5_099_999] }),
  );
  await expect(figure).toHaveAttribute("data-token", "2", { timeout: 30_000 });
  await expect(page.getByTestId("reduction")).toContainText("100,000 rows in view");
  await expect(figure).toHaveAttribute("data-rows", "100000");
  await expect(page.getByTestId("error")).toHaveCount(0);

  // The cache page lists it on disk.
  await page.goto(server.url + "/cache");
  await expect(page.getByTestId("cache-entry")).toHaveCount(1);
  await expect(page.getByTestId("cache-entry")).toContainText("uniform_on_disk");
  await expect(page.getByTestId("cache-entry").locator("td", { hasText: /^disk$/ })).toHaveCount(1);
});
