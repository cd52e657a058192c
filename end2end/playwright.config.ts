import { defineConfig } from "@playwright/test";

/**
 * End-to-end tests for Rekomi. The server must already be running (e.g. `cargo leptos serve`);
 * point BASE_URL at it when it is not on 127.0.0.1:3000. Browsers are not downloaded: the tests
 * drive the system Chromium (override with CHROMIUM_PATH).
 */
export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  reporter: [["list"]],
  use: {
    baseURL: process.env.BASE_URL ?? "http://127.0.0.1:3000",
    trace: "off",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    {
      // The only project. Tests that need scripts off open their own context with
      // `browser.newContext({ javaScriptEnabled: false })`.
      name: "js",
      use: { javaScriptEnabled: true },
    },
  ],
});
