// The end-to-end benchmark (not a test suite): `scripts/bench` runs it against a release build.
import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

export default defineConfig({
  ...base,
  testDir: "./bench",
  timeout: 30 * 60_000,
  reporter: [["line"]],
  use: { ...base.use, trace: "off" },
});
