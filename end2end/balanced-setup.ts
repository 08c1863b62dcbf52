// Playwright global setup for balanced.config.ts: Redis, two servers, HAProxy; the
// balancer's URL is what every test opens.
import { startBalanced } from "./balanced";

export default async function globalSetup() {
  const balanced = await startBalanced(process.env.STAYPUT_E2E_PROFILE ?? "debug");
  process.env.STAYPUT_URL = balanced.url;
  process.env.STAYPUT_SERVERS = balanced.servers.join(" ");
  return async () => {
    await balanced.stop();
  };
}
