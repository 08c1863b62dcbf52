// What the linked-view benches share: the sizes, the server with room for the 1e8-row
// series (3.2 GB, over a default session quota), making the series on /explore, and the
// same drag across a histogram.
import { expect, type Page } from "@playwright/test";
import { startServer, type Running } from "../server";

const MAX_ROWS = Number(process.env.STAYPUT_BENCH_MAX_ROWS ?? Infinity);
export const SIZES = [1_000_000, 10_000_000, 100_000_000].filter((n) => n <= MAX_ROWS);
export const REPS = 7;
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A server with room for the 1e8-row series, as /explore's bench. */
export function startRoomyServer(): Promise<Running> {
  return startServer(process.env.STAYPUT_E2E_PROFILE ?? "release", {
    STAYPUT_MEMORY_BUDGET: "12GiB",
    STAYPUT_SESSION_QUOTA: "8GiB",
  });
}

/** Makes the `n`-row series with /explore's Make and waits for its first draw. */
export async function makeSeries(page: Page, url: string, n: number): Promise<void> {
  await page.goto(url + "/explore");
  await expect(page.locator("section.explore[data-ready=true]")).toBeVisible();
  await page.getByTestId("series-rows").selectOption(String(n));
  await page.getByTestId("make-series").click();
  await expect(page.getByTestId("figure")).toHaveAttribute("data-token", "1", { timeout: 300_000 });
}

/** The `i`th of a row of box drags across the plot area `surface` (released). */
export async function drag(page: Page, surface: string, i: number): Promise<void> {
  const area = page.locator(surface).first();
  await area.scrollIntoViewIfNeeded();
  const box = (await area.boundingBox())!;
  const from = 0.15 + 0.05 * i;
  await page.mouse.move(box.x + box.width * from, box.y + box.height * 0.1);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * (from + 0.2), box.y + box.height * 0.9, { steps: 4 });
  await page.mouse.up();
}
