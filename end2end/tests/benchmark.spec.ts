import { expect, test } from "@playwright/test";
import { baseUrl, openBenchmark, runBenchmark } from "./helpers";

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

test("the page hydrates with its controls and defaults", async ({ page }) => {
  const errors: string[] = [];
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  page.on("pageerror", (err) => errors.push(err.message));
  await openBenchmark(page);
  await expect(page).toHaveTitle("Stayput");
  const sizes = await page.getByTestId("size").locator("option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(sizes).toEqual(["1", "10", "100", "1000", "10000", "100000", "1000000", "10000000", "100000000"]);
  await expect(page.getByTestId("mode")).toHaveValue("server");
  await expect(page.getByTestId("error")).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("server mode at 1e6: elapsed time, mean near 0.5, histogram drawn and re-drawn", async ({ page }) => {
  await openBenchmark(page);
  const first = await runBenchmark(page, 1_000_000, "server");
  expect(first.elapsed).toBeGreaterThan(0);
  expect(first.mean).toBeGreaterThan(0.49);
  expect(first.mean).toBeLessThan(0.51);
  // plotly.js drew real bars into the container.
  await expect(page.getByTestId("histogram").locator(".main-svg").first()).toBeVisible();
  await expect(page.getByTestId("histogram").locator(".bars path")).toHaveCount(50);
  await expect(page.getByText(/On the server: frame [0-9a-f]{8} · 1,000,000 rows/)).toBeVisible();

  const second = await runBenchmark(page, 1_000, "server");
  expect(second.k).toBe(2);
  await expect(page.getByTestId("histogram")).toHaveAttribute("data-token", "2");
  await expect(page.getByTestId("loading")).toHaveCount(0);
  await expect(page.getByTestId("run")).toBeEnabled();
});

test("the histogram is asked for only after the mean is painted", async ({ page }) => {
  // Asked for at once, its work on the server and its fetch competed with the frame that
  // paints the mean (app/src/pages/benchmark.rs, `histogram_after_paint`).
  await openBenchmark(page);
  for (const rows of [1_000, 1_000_000]) {
    await runBenchmark(page, rows, "server");
    const { painted, asked } = await page.evaluate(() => {
      const entries = performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/api/frame_histogram"));
      return {
        painted: (window as unknown as { __stayputPaintedAt: number }).__stayputPaintedAt,
        asked: entries[entries.length - 1].startTime,
      };
    });
    expect(asked, `histogram asked at ${asked}, mean painted at ${painted}`).toBeGreaterThanOrEqual(painted);
  }
});

test("a run long enough to notice covers the page and cannot be started twice", async ({ page }) => {
  await openBenchmark(page);
  await page.getByTestId("size").selectOption("1000000");
  await page.getByTestId("mode").selectOption("client"); // ~0.5 s: the frame travels both ways
  // Record in the page what a polling test could miss: the overlay appearing, and the
  // button's state while it is shown.
  await page.evaluate(() => {
    const seen = { overlay: false, enabledUnderOverlay: false };
    (window as unknown as { seen: typeof seen }).seen = seen;
    new MutationObserver(() => {
      const overlay = document.querySelector("[data-testid=loading]");
      const run = document.querySelector<HTMLButtonElement>("[data-testid=run]");
      if (!overlay) return;
      seen.overlay = true;
      if (run && !run.disabled) seen.enabledUnderOverlay = true;
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  await page.getByTestId("run").dblclick(); // a double click starts one run
  await expect(page.getByTestId("histogram")).toHaveAttribute("data-token", "1", { timeout: 60_000 });
  await expect(page.getByTestId("result")).toContainText("run 1:");
  await expect(page.getByTestId("loading")).toHaveCount(0);
  await expect(page.getByTestId("run")).toBeEnabled();
  const seen = await page.evaluate(() => (window as unknown as { seen: object }).seen);
  expect(seen).toEqual({ overlay: true, enabledUnderOverlay: false });
  // The next click is run 2: the double click did not count twice.
  await page.getByTestId("size").selectOption("1000");
  await page.getByTestId("run").click();
  await expect(page.getByTestId("result")).toContainText("run 2:");
});

test("no click is lost: ten clicks at 1e7, each the moment the last result shows or just after, all answered", async ({ page, context }) => {
  // The next click comes while the last run's histogram is still on its way (no pause,
  // as a user clicking again at once). It supersedes that run: it is answered, and only
  // the last run's histogram is drawn.
  await openBenchmark(page);
  await page.getByTestId("size").selectOption("10000000");
  const answered = await page.evaluate(async () => {
    const run = document.querySelector<HTMLButtonElement>("[data-testid=run]")!;
    const result = document.querySelector("[data-testid=result]")!;
    const seen: number[] = [];
    return await new Promise<number[]>((done) => {
      let timer = 0;
      const arm = () => {
        clearTimeout(timer);
        timer = window.setTimeout(() => done(seen), 5_000); // each click is answered within 5 s
      };
      new MutationObserver(() => {
        const m = /^run (\d+):/.exec(result.textContent ?? "");
        if (!m || seen.includes(Number(m[1]))) return;
        seen.push(Number(m[1]));
        if (seen.length === 10) return done(seen);
        arm();
        // Every other click at once, the others 130 ms later: past the overlay's delay,
        // while the histogram may still be on its way (the overlay covered it and
        // swallowed that click).
        if (seen.length % 2) run.click();
        else setTimeout(() => run.click(), 130);
      }).observe(result, { childList: true, characterData: true, subtree: true });
      arm();
      run.click();
    });
  });
  expect(answered).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await expect(page.getByTestId("histogram")).toHaveAttribute("data-token", "10", { timeout: 30_000 });
  await expect(page.getByTestId("error")).toHaveCount(0);
  await expect(page.getByTestId("run")).toHaveAttribute("aria-busy", "false");
  // The server holds one frame for the page in memory: each run released the one before
  // it, or dropped it once its histogram was in (a release while it was on its way would
  // have made the histogram rebuild it).
  await expect(page.getByText(/On the server: frame [0-9a-f]{8} · 10,000,000 rows/)).toBeVisible();
  const inspector = await context.newPage();
  await expect(async () => {
    await inspector.goto(baseUrl() + "/cache");
    await expect(inspector.locator("section.cache[data-ready=true]")).toBeVisible();
    expect(await inspector.getByTestId("cache-entry").filter({ hasText: "memory" }).count()).toBe(1);
  }).toPass({ timeout: 15_000 });
});

test("server mode moves the same bytes at 1e6 as at 1e3", async ({ page }) => {
  await openBenchmark(page);
  const small = await runBenchmark(page, 1_000, "server");
  const large = await runBenchmark(page, 1_000_000, "server");
  // The two steps went as two messages and two replies on the open socket.
  expect(large.requests).toEqual(["/api/frame_histogram"]);
  expect(large.socketFrames).toBe(4);
  expect(small.bytes).toBeGreaterThan(0);
  expect(Math.abs(large.bytes - small.bytes) / small.bytes).toBeLessThan(0.1);
});

test("client mode at 1e5 moves the frame through the browser (> 1 MB)", async ({ page }) => {
  await openBenchmark(page);
  const run = await runBenchmark(page, 100_000, "client");
  expect(run.bytes).toBeGreaterThan(1_000_000);
  expect(run.mean).toBeGreaterThan(0.48);
  expect(run.mean).toBeLessThan(0.52);
  await expect(page.getByText(/On the server: frame/)).toHaveCount(0);
});

test("a forged size is refused with a clear message and the server keeps serving", async ({ page }) => {
  await openBenchmark(page);
  // A request the UI never makes: add an option the page does not offer and pick it.
  await page.getByTestId("size").evaluate((el) => {
    const select = el as HTMLSelectElement;
    select.add(new Option("0", "0"));
    select.value = "0";
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });
  await page.getByTestId("run").click();
  await expect(page.getByTestId("error")).toContainText("size");
  await expect(page.getByTestId("run")).toBeEnabled();
  const ok = await runBenchmark(page, 1_000, "server");
  expect(ok.mean).toBeGreaterThan(0.4);
  await expect(page.getByTestId("error")).toHaveCount(0);
});

test("a forged handle is indistinguishable from an unknown one", async ({ page }) => {
  // Rewrite the handle in the first step-2 message on the socket to a made-up UUID.
  let forged = 0;
  await page.routeWebSocket(/\/api\/steps$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      const text = message.toString();
      if (forged === 0 && text.includes('"Mean"')) {
        forged += 1;
        const changed = text.replace(UUID, "0e5f2a53-4c1b-4d4e-9f55-0b3f4c1d2e7a");
        expect(changed).not.toBe(text);
        server.send(typeof message === "string" ? changed : Buffer.from(changed, "latin1"));
      } else {
        server.send(message);
      }
    });
  });
  await openBenchmark(page);
  await page.getByTestId("size").selectOption("1000");
  await page.getByTestId("run").click();
  await expect(page.getByTestId("error")).toContainText("unknown or expired");
  const text = (await page.getByTestId("error").textContent()) ?? "";
  expect(text).not.toMatch(/panic|\/home|\/root|\.rs/);
  expect(forged).toBe(1);
  const ok = await runBenchmark(page, 1_000, "server");
  expect(ok.mean).toBeGreaterThan(0.4);
});

test("without the socket the steps go over HTTP, and a forged handle there reads as unknown", async ({ page }) => {
  // A proxy that refuses WebSockets: the page runs its steps as HTTP server functions.
  await page.routeWebSocket(/\/api\/steps$/, (ws) => ws.close());
  await page.route("**/api/frame_mean", async (route) => {
    const body = route.request().postData() ?? "";
    const forged = body.replace(UUID, "0e5f2a53-4c1b-4d4e-9f55-0b3f4c1d2e7a");
    expect(forged).not.toBe(body);
    await route.continue({ postData: forged });
  });
  await openBenchmark(page, false);
  await page.getByTestId("size").selectOption("1000");
  await page.getByTestId("run").click();
  await expect(page.getByTestId("error")).toContainText("unknown or expired");
  await page.unroute("**/api/frame_mean");
  const ok = await runBenchmark(page, 1_000, "server");
  expect(ok.mean).toBeGreaterThan(0.4);
  // (The page also tries to reopen its socket, which starts with /api/start_session.)
  const steps = ok.requests.filter((path) => path !== "/api/start_session").sort();
  expect(steps).toEqual(["/api/create_frame", "/api/frame_histogram", "/api/frame_mean"]);
});

test("client mode refuses 1e8 rows with a clear message instead of crashing the tab", async ({ page }) => {
  await openBenchmark(page);
  await page.getByTestId("size").selectOption("100000000");
  await page.getByTestId("mode").selectOption("client");
  await page.getByTestId("run").click();
  await expect(page.getByTestId("error")).toContainText("client mode is limited to 10,000,000 rows");
  await expect(page.getByTestId("error")).toContainText("use server mode");
  await expect(page.getByTestId("run")).toBeEnabled();
});
