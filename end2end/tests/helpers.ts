// Drives the benchmark page the way a user does and measures what crossed the network.
import { expect, type Page, type Request } from "@playwright/test";

export function baseUrl(): string {
  const url = process.env.STAYPUT_URL;
  if (!url) throw new Error("STAYPUT_URL is not set: run through playwright.config.ts");
  return url;
}

/** Bytes and messages of the page's WebSockets (the benchmark's steps), as sent. */
interface SocketTraffic {
  bytes: number;
  frames: number;
}
const traffic = new WeakMap<Page, SocketTraffic>();

/** Counts every WebSocket frame of `page` from now on (once per page). */
function countSocketFrames(page: Page): SocketTraffic {
  let seen = traffic.get(page);
  if (seen) return seen;
  const counted: SocketTraffic = { bytes: 0, frames: 0 };
  traffic.set(page, counted);
  page.on("websocket", (ws) => {
    // Payload plus the frame header: 2 bytes from the server, 6 (masked) from the browser.
    const count = (header: number) => (frame: { payload: string | Buffer }) => {
      counted.frames += 1;
      counted.bytes += header + (typeof frame.payload === "string" ? Buffer.byteLength(frame.payload) : frame.payload.length);
    };
    ws.on("framesent", count(6));
    ws.on("framereceived", count(2));
  });
  return counted;
}

/**
 * Opens `/` and waits until the page has hydrated and, unless `socket` is false, its
 * steps' WebSocket is open (no fixed sleeps).
 */
export async function openBenchmark(page: Page, socket = true): Promise<void> {
  countSocketFrames(page);
  await page.goto(baseUrl() + "/");
  await expect(page.locator("section[data-ready=true]")).toBeVisible();
  if (socket) await expect(page.locator("section[data-steps=socket]")).toBeVisible();
}

/** Milliseconds from the click to each stage of a run, read in the page: the run starts
 * (`run`), step 1's answer is in (`created`), step 2's answer is in (`mean`, server mode
 * only), the mean is in the DOM (`dom`), the next animation frame (`painted`). */
export interface Stages {
  run: number;
  created: number;
  mean: number;
  dom: number;
  painted: number;
}

export interface Run {
  k: number;
  result: string;
  elapsed: number;
  /** Milliseconds from the click to the first animation frame after the mean was in the
   * DOM (painted): the instrument the Dash reference was measured with. */
  painted: number;
  stages: Stages;
  mean: number;
  /** Bytes of every HTTP request and response of the run (headers and bodies) and of
   * every WebSocket frame, as sent. */
  bytes: number;
  requests: string[];
  /** WebSocket frames of the run, both ways. */
  socketFrames: number;
}

/** How a bench clicks Run (tests use the defaults: at once, straight on the button). */
export interface Click {
  /** A user's pause before the click, in ms. */
  thinkMs?: number;
  /** The pointer comes onto the button from 150 px to its left over ~200 ms (a move a
   * frame), and the click follows the last move at once. */
  approach?: boolean;
  /** Choose size and mode even when the selects already show them. */
  force?: boolean;
}

/**
 * Picks size and mode, clicks Run, waits for the histogram of this run, returns what it
 * saw. Size and mode are chosen only when they differ (or `click.force`): choosing the
 * option a select already shows still makes Chromium draw the select again, and that
 * frame, 40–50 ms before a click, left the click's own frame in the slot the mean would
 * have been painted in (see docs/BENCHMARKS.md, "Measured like the reference").
 */
export async function runBenchmark(
  page: Page,
  rows: number,
  mode: "server" | "client",
  click: Click = {},
): Promise<Run> {
  const size = page.getByTestId("size");
  if (click.force || (await size.inputValue()) !== String(rows)) await size.selectOption(String(rows));
  const modeSelect = page.getByTestId("mode");
  if (click.force || (await modeSelect.inputValue()) !== mode) await modeSelect.selectOption(mode);
  const plot = page.getByTestId("histogram");
  const previous = await plot.getAttribute("data-token");
  const sizes: Promise<number>[] = [];
  const requests: string[] = [];
  const onFinished = (req: Request) => {
    requests.push(new URL(req.url()).pathname);
    sizes.push(
      req.sizes().then((s) => s.requestHeadersSize + s.requestBodySize + s.responseHeadersSize + s.responseBodySize),
    );
  };
  page.on("requestfinished", onFinished);
  const socket = countSocketFrames(page);
  const socketBefore = { ...socket };
  // Wait inside the page, without polling: each of Playwright's polls is a round trip
  // into the page's main thread while the run is timing itself there (polling added
  // ~15 ms to a 20 ms run on this 2-core machine).
  await page.evaluate((previous) => {
    const w = window as unknown as { __stayputRun?: Promise<void>; __stayputPaint?: Promise<number> };
    // The reference's instrument: from the click (its event's time) to the first animation
    // frame after the new mean is in the DOM, i.e. painted.
    w.__stayputPaint = new Promise<number>((done) => {
      const text = () => document.querySelector("[data-testid=result]")?.textContent ?? "";
      const before = text();
      let clicked = 0;
      document
        .querySelector("[data-testid=run]")!
        .addEventListener("click", (e) => (clicked = e.timeStamp), { capture: true, once: true });
      const watch = new MutationObserver(() => {
        const failed = document.querySelector("[data-testid=error]") !== null;
        if (text() !== before || failed) {
          watch.disconnect();
          const inDom = performance.now();
          requestAnimationFrame(() => {
            const painted = performance.now();
            (window as unknown as { __stayputPaintedAt?: number }).__stayputPaintedAt = painted;
            // The page's marks (app/src/pages/benchmark.rs), from the click.
            const at = (name: string) => {
              const marks = performance.getEntriesByName(name, "mark");
              const last = marks[marks.length - 1];
              return last && last.startTime >= clicked ? last.startTime - clicked : NaN;
            };
            (window as unknown as { __stayputStages?: Stages }).__stayputStages = {
              run: at("stayput:run"),
              created: at("stayput:created"),
              mean: at("stayput:mean"),
              dom: inDom - clicked,
              painted: painted - clicked,
            };
            done(failed ? NaN : painted - clicked);
          });
        }
      });
      watch.observe(document.body, { childList: true, characterData: true, subtree: true });
    });
    w.__stayputRun = new Promise<void>((done) => {
      const plot = document.querySelector("[data-testid=histogram]")!;
      const over = () =>
        plot.getAttribute("data-token") !== previous || document.querySelector("[data-testid=error]") !== null;
      const watch = new MutationObserver(() => {
        if (over()) {
          watch.disconnect();
          done();
        }
      });
      watch.observe(plot, { attributes: true, attributeFilter: ["data-token"] });
      watch.observe(plot.parentElement!, { childList: true });
    });
  }, previous);
  // A plain mouse click at the button's centre: real input through Chromium's input
  // pipeline, without locator.click()'s in-page actionability scripts, which ran inside
  // the timed window (~4 ms a run here).
  const button = page.getByTestId("run");
  await expect(button).toBeEnabled();
  const box = await button.boundingBox();
  if (!box) throw new Error("the Run button is not visible");
  const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
  if (click.thinkMs) await page.waitForTimeout(click.thinkMs);
  if (click.approach) {
    await page.mouse.move(x - 150, y);
    for (let step = 1; step <= 12; step++) {
      await page.waitForTimeout(16);
      await page.mouse.move(x - 150 + (150 * step) / 12, y);
    }
  }
  await page.mouse.click(x, y);
  await page.evaluate(() => (window as unknown as { __stayputRun: Promise<void> }).__stayputRun);
  const painted = await page.evaluate(() => (window as unknown as { __stayputPaint: Promise<number> }).__stayputPaint);
  const stages = await page.evaluate(() => (window as unknown as { __stayputStages: Stages }).__stayputStages);
  const failed = page.getByTestId("error");
  if ((await failed.count()) > 0) throw new Error(`the run failed: ${await failed.textContent()}`);
  // K counts clicks (failed runs too), so wait for any new token and read K from it.
  await expect(plot).not.toHaveAttribute("data-token", previous ?? "", { timeout: 120_000 });
  await expect(plot).toHaveAttribute("data-token", /^\d+$/);
  const k = Number(await plot.getAttribute("data-token"));
  page.off("requestfinished", onFinished);
  const bytes = (await Promise.all(sizes)).reduce((a, b) => a + b, 0) + socket.bytes - socketBefore.bytes;
  const socketFrames = socket.frames - socketBefore.frames;
  const result = (await page.getByTestId("result").textContent()) ?? "";
  const m = /^run (\d+): ELAPSED = (\d+\.\d{4})s \(and mean is (\d\.\d{3})\)$/.exec(result.trim());
  if (!m) throw new Error(`unexpected result text: ${JSON.stringify(result)}`);
  expect(Number(m[1])).toBe(k);
  await expect(page.getByTestId("error")).toHaveCount(0);
  return { k, result, elapsed: Number(m[2]), painted, stages, mean: Number(m[3]), bytes, requests, socketFrames };
}
