import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { PASSWORD, collectPageErrors, signUp, uniqueEmail, uniqueId, untilHydrated } from "./helpers";

/** The demo store of `fake-shopify --demo` (scripts/test.sh starts it beside the server). */
const SHOP = "demo-outdoor.myshopify.com";
const FULL = { id: "demo0rekomi0full0access0client01", secret: "shpss_demo_rekomi_full_access_secret_0001" };
const NO_DISCOUNTS = { id: "demo0rekomi0no0discounts0client1", secret: "shpss_demo_rekomi_no_discounts_secret_01" };
const FAKE_SHOPIFY = "http://127.0.0.1:3200";

/**
 * Shopify as a connected app: the setup steps, a credential missing a scope named by Shopify's own
 * name, then a good one; the shop's facts and its webhooks subscribed by Rekomi in the fake store.
 */
test("connecting the shop names a missing scope, then subscribes the webhooks itself", async ({ page, request }) => {
  test.setTimeout(90_000);
  const errors = collectPageErrors(page);
  await signUp(page, `Shopify Shop ${uniqueId()}`, uniqueEmail("shopify"), PASSWORD);
  await page.goto("/app/shopify");
  await expect(page.getByRole("heading", { name: "Shopify", level: 1 })).toBeVisible();
  await expect(page.getByTestId("scope-list")).toHaveValue(/write_discounts/);

  const connect = async (id: string, secret: string) => {
    await page.getByLabel("Store address").fill("demo-outdoor");
    await page.getByLabel("Client ID").fill(id);
    await page.getByLabel("Client secret").fill(secret);
    await page.getByRole("button", { name: "Connect Shopify" }).click();
  };
  await untilHydrated(async () => {
    await connect(NO_DISCOUNTS.id, NO_DISCOUNTS.secret);
    await expect(page.getByTestId("missing-scopes")).toBeVisible({ timeout: 3_000 });
  });
  await expect(page.getByTestId("missing-scopes")).toContainText("write_discounts (a discount code for each affiliate)");
  await expect(page.getByTestId("missing-scopes")).not.toContainText("read_orders");
  await page.screenshot({ path: "test-results/screens/shopify-missing-scope.png", fullPage: true });

  await connect(FULL.id, FULL.secret);
  const connection = page.getByTestId("shop-connection");
  await expect(connection.getByRole("heading", { name: /Demo Outdoor Co\./ })).toBeVisible();
  await expect(connection).toContainText(SHOP);
  await expect(connection).toContainText("USD");
  const health = page.getByTestId("webhook-health");
  for (const topic of ["orders/paid", "refunds/create", "orders/cancelled", "app/uninstalled"]) {
    await expect(health.locator(`tr[data-topic="${topic}"]`)).toContainText("Subscribed");
  }
  // The fake store holds them, pointed at this instance.
  const state = await (await request.get(`${FAKE_SHOPIFY}/_fake/shopify/shops/${SHOP}`)).json();
  const topics = state.webhooks.filter((w: { uri: string }) => w.uri.includes("/webhooks/shopify/")).map((w: { topic: string }) => w.topic);
  expect(topics.sort()).toEqual(["APP_UNINSTALLED", "ORDERS_CANCELLED", "ORDERS_PAID", "REFUNDS_CREATE"]);

  // After a reload the page is rebuilt from the server; the secret never comes back.
  await page.reload();
  await expect(page.getByTestId("shop-connection")).toContainText("Connected");
  expect(await page.content()).not.toContain(FULL.secret);
  // Neither the app's secret nor an access token reaches the server's (debug) log.
  const log = process.env.REKOMI_SERVER_LOG;
  if (log) {
    const text = readFileSync(log, "utf8");
    for (const secret of [FULL.secret, NO_DISCOUNTS.secret, "shpat_"]) expect(text).not.toContain(secret);
  }
  await page.screenshot({ path: "test-results/screens/shopify-connected.png", fullPage: true });

  // Disconnect (the demo store is free again for the next run).
  await page.getByRole("button", { name: "Disconnect Shopify" }).click();
  await page.getByRole("button", { name: "Yes, disconnect" }).click();
  await expect(page.getByRole("button", { name: "Connect Shopify" })).toBeVisible();
  expect(errors).toEqual([]);
});
