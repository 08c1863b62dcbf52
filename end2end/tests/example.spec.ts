// The example app (examples/scalable): Stayput's two libraries in a Leptos + axum app of
// its own. It is started here on a free port and driven like the main app.
import { expect, test } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { root } from "../server";

let child: ChildProcess | undefined;
let url = "";

test.beforeAll(async () => {
  const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), ".cache", "stayput", "target");
  const bin = join(target, "debug", "stayput-example");
  if (!existsSync(bin)) throw new Error(`no example binary at ${bin}: run \`cargo build -p stayput-example\``);
  const started = spawn(bin, [], { cwd: root, env: { ...process.env, STAYPUT_EXAMPLE_ADDR: "127.0.0.1:0" }, stdio: ["ignore", "pipe", "pipe"] });
  child = started;
  url = await new Promise<string>((ok, fail) => {
    let seen = "";
    started.stdout!.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m) ok(m[1]);
    });
    started.stderr!.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    started.on("exit", (code) => fail(new Error(`the example exited with ${code}: ${seen}`)));
  });
});

test.afterAll(() => {
  child?.kill("SIGTERM");
});

test("the example app draws a million rows kept on the server as a plotly.rs figure, and a zoom re-reduces it", async ({ page }) => {
  const bytes: number[] = [];
  page.on("response", async (res) => {
    if (res.url().endsWith("/api/walk_figure")) bytes.push((await res.body()).length);
  });
  await page.goto(url);
  const plot = page.getByTestId("plot");
  await expect(plot).toHaveAttribute("data-draws", "1", { timeout: 30_000 });
  await expect(page.getByTestId("note")).toContainText("for 1,000,000 rows");
  // The user's plotly.rs styling is kept: its title, date axis and line colour.
  const drawn = await plot.evaluate((el) => {
    const p = el as unknown as { layout: { title: { text: string }; xaxis: { type: string } }; data: { line: { color: string }; name: string }[] };
    return { title: p.layout.title.text, axis: p.layout.xaxis.type, color: p.data[0].line.color, name: p.data[0].name };
  });
  expect(drawn).toEqual({ title: "A million seconds of a random walk, kept on the server", axis: "date", color: "#1f6feb", name: "walk" });
  const points = () => plot.evaluate((el) => (el as unknown as { calcdata: unknown[][] }).calcdata[0].length);
  const width = await plot.evaluate((el) => el.clientWidth);
  expect(await points()).toBeLessThanOrEqual(2 * width + 2);

  // Zoom to 1 % of the series: asked for again, reduced on the server for that range.
  const start = 1_704_067_200_000;
  await plot.evaluate((el, [lo, hi]) => {
    const iso = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
    return (window as unknown as { Plotly: { relayout: Function } }).Plotly.relayout(el, { "xaxis.range": [iso(lo), iso(hi)] });
  }, [start + 500_000_000, start + 509_999_000]);
  await expect(plot).toHaveAttribute("data-draws", "2");
  const zoomed = await plot.evaluate((el) => {
    const xs = (el as unknown as { calcdata: { x: number }[][] }).calcdata[0].map((p) => p.x);
    return { first: Math.min(...xs), last: Math.max(...xs), n: xs.length };
  });
  expect(zoomed.first).toBeGreaterThanOrEqual(start + 500_000_000);
  expect(zoomed.last).toBeLessThanOrEqual(start + 509_999_000);
  expect(zoomed.n).toBeGreaterThan(width / 2);
  expect(bytes.length).toBe(2);
  for (const b of bytes) expect(b).toBeLessThan(100_000);
});
