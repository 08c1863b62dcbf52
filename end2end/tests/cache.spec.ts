import { expect, test } from "@playwright/test";
import { baseUrl, openBenchmark, runBenchmark } from "./helpers";

/** The short id the benchmark page shows for the frame it holds. */
async function shownHandle(page: import("@playwright/test").Page): Promise<string> {
  const text = (await page.getByText(/On the server: frame [0-9a-f]{8}/).textContent()) ?? "";
  const m = /frame ([0-9a-f]{8})/.exec(text);
  if (!m) throw new Error(`no handle in ${JSON.stringify(text)}`);
  return m[1];
}

async function openCache(page: import("@playwright/test").Page): Promise<void> {
  await page.goto(baseUrl() + "/cache");
  await expect(page.locator("section.cache[data-ready=true]")).toBeVisible();
}

test("/cache lists the session's handle; dropped, it reads as unknown on the benchmark", async ({ page, context }) => {
  await openBenchmark(page);
  await runBenchmark(page, 1_000, "server");
  const short = await shownHandle(page);

  // A second tab of the same browser session.
  const inspector = await context.newPage();
  await openCache(inspector);
  const row = inspector.locator(`[data-testid=cache-entry][data-id^="${short}"]`);
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("create_frame");
  await expect(row).toContainText('"rows":1000');
  await expect(row).toContainText("1,000 × 1");
  await expect(row).toContainText("7.8 KiB");
  await expect(row).toContainText("memory");
  await expect(inspector.getByTestId("server-totals")).toContainText(/Whole server: \d+ sessions/);

  await row.getByTestId("drop").click();
  await expect(row).toHaveCount(0);

  // Back on the benchmark, step 2 on the dropped frame: a clear error, no internals.
  await page.getByTestId("again").click();
  await expect(page.getByTestId("error")).toContainText("unknown or expired");
  await expect(page.getByTestId("error")).not.toContainText(/panic|\/tmp|src\//);
  // The next full run works.
  await runBenchmark(page, 1_000, "server");
});

test("step 2 again reads the same frame; drop all empties the page; other sessions see nothing", async ({ page, context, browser }) => {
  await openBenchmark(page);
  const first = await runBenchmark(page, 100_000, "server");
  await page.getByTestId("again").click();
  await expect(page.getByTestId("histogram")).toHaveAttribute("data-token", String(first.k + 1));
  await expect(page.getByTestId("result")).toContainText(`run ${first.k + 1}: ELAPSED`);
  await expect(page.getByTestId("result")).toContainText(`mean is ${first.mean.toFixed(3)}`);
  await runBenchmark(page, 10, "server");

  const inspector = await context.newPage();
  await openCache(inspector);
  await expect(inspector.getByTestId("cache-entry")).toHaveCount(2);
  // The 1e5 frame was read four times: mean and histogram, twice. (Hits are counted by
  // each server: behind the balancer, balanced.config.ts, they are spread over two.)
  const big = inspector.getByTestId("cache-entry").first();
  await expect(big).toContainText("100,000 × 1");
  if (!process.env.STAYPUT_SERVERS) await expect(big.locator("td").nth(7)).toHaveText("4");

  // Another browser session sees none of it.
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  await openCache(other);
  await expect(other.getByTestId("cache-empty")).toBeVisible();
  await stranger.close();

  await inspector.getByTestId("drop-all").click();
  await expect(inspector.getByTestId("cache-empty")).toBeVisible();
  await expect(inspector.getByTestId("session-total")).toContainText("holds 0 B in memory");
});

test("a drop that finds its frame gone says so, and the next drop that succeeds clears it", async ({ page, context }) => {
  await openBenchmark(page);
  await runBenchmark(page, 1_000, "server");
  const short = await shownHandle(page);
  // Two tabs of the same session list the frame; the first drops it.
  const first = await context.newPage();
  await openCache(first);
  const second = await context.newPage();
  await openCache(second);
  await first.locator(`[data-testid=cache-entry][data-id^="${short}"]`).getByTestId("drop").click();
  await expect(first.locator(`[data-testid=cache-entry][data-id^="${short}"]`)).toHaveCount(0);
  // The second, still listing it, drops it too: already gone.
  await second.locator(`[data-testid=cache-entry][data-id^="${short}"]`).getByTestId("drop").click();
  await expect(second.getByTestId("error")).toContainText("already gone");
  // Drop all succeeds: the message goes.
  await second.getByTestId("drop-all").click();
  await expect(second.getByTestId("cache-empty")).toBeVisible();
  await expect(second.getByTestId("error")).toHaveCount(0);
});
