// Through a real round-robin balancer (HAProxy) in front of two servers sharing one Redis:
// one browser session over every page, both servers answering (balanced/*.spec.ts).
// The whole suite (`tests/`) also runs this way by hand with
// `npx playwright test -c end2end/balanced.config.ts tests/`: all but two pass (per-server
// hit counts on /cache, and /data's plot zoom; see the README).
import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

export default defineConfig({
  ...base,
  testDir: ".",
  testMatch: /balanced\/.*\.spec\.ts$/,
  globalSetup: "./balanced-setup.ts",
});
