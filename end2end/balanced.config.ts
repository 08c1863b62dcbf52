// Through a real round-robin balancer (HAProxy) in front of two servers sharing one Redis:
// one browser session over every page, both servers answering (balanced/*.spec.ts).
// With STAYPUT_BALANCED_ALL=1 (scripts/test sets it) the whole suite (`tests/`) runs this
// way too.
import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

export default defineConfig({
  ...base,
  testDir: ".",
  testMatch: process.env.STAYPUT_BALANCED_ALL ? /(balanced|tests)\/.*\.spec\.ts$/ : /balanced\/.*\.spec\.ts$/,
  globalSetup: "./balanced-setup.ts",
});
