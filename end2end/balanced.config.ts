// The whole browser suite again, through a real round-robin balancer (HAProxy) in front of
// two servers sharing one Redis, plus the checks that only make sense there
// (balanced/*.spec.ts): one browser session, every page, both servers answering.
import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

export default defineConfig({
  ...base,
  testDir: ".",
  testIgnore: ["**/bench/**", "**/node_modules/**", "**/test-results/**"],
  globalSetup: "./balanced-setup.ts",
});
