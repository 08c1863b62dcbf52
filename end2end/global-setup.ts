// Playwright global setup: one real Stayput server for the whole run; its URL goes to the
// workers through the environment, and the returned function stops it afterwards.
import { startServer } from "./server";

export default async function globalSetup() {
  const server = await startServer(process.env.STAYPUT_E2E_PROFILE ?? "debug");
  process.env.STAYPUT_URL = server.url;
  return async () => {
    await server.stop();
  };
}
