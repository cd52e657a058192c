import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import {
  PASSWORD,
  applyConfirmed,
  clickCalling,
  collectPageErrors,
  createCampaign,
  signUp,
  uniqueEmail,
  uniqueId,
  untilHydrated,
} from "./helpers";

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

/**
 * The shop's journey in demo mode: a store of its own in the fake Shopify, connected; the campaign's
 * discount saved in the editor; an approved affiliate's code made in the store and shown in the
 * portal with the link that applies it; an order placed with the code and one credited by the
 * custom pixel's report, both delivered by the fake's signed webhooks; a refund cutting the
 * commission.
 */
test("codes are made in the shop on approval, and orders by code and by pixel earn commissions", async ({ page, request, browser }) => {
  test.setTimeout(120_000);
  const errors = collectPageErrors(page);
  const id = uniqueId();
  const shop = `journey-${id}.myshopify.com`;
  const scopes = ["read_orders", "read_products", "write_discounts", "write_customers", "write_store_credit_account_transactions", "read_store_credit_accounts"];
  const created = await request.post(`${FAKE_SHOPIFY}/_fake/shopify/shops`, {
    data: { domain: shop, name: "Journey Outfitters", currency: "USD", apps: [{ client_id: `journey-${id}`, client_secret: "shpss_journey_secret", scopes }] },
  });
  expect(created.status()).toBe(201);
  await signUp(page, `Journey ${id}`, uniqueEmail("journey"), PASSWORD);
  const campaign = await createCampaign(page, { name: "Trail Friends", pitch: "Earn with us.", terms: "Be nice.", autoApprove: true, holdDays: "0" });

  // The campaign's discount needs a shop first, and says so.
  await expect(page.getByTestId("discount-needs-shop")).toBeVisible();
  await page.goto("/app/shopify");
  await untilHydrated(async () => {
    if (await page.getByTestId("shop-connection").isVisible()) return;
    await page.getByLabel("Store address").fill(shop, { timeout: 2_000 });
    await page.getByLabel("Client ID").fill(`journey-${id}`, { timeout: 2_000 });
    await page.getByLabel("Client secret").fill("shpss_journey_secret", { timeout: 2_000 });
    await page.getByRole("button", { name: "Connect Shopify" }).click({ timeout: 2_000 });
    await expect(page.getByTestId("shop-connection")).toBeVisible({ timeout: 5_000 });
  });
  await expect(page.getByTestId("webhook-health").locator('tr[data-topic="orders/paid"]')).toContainText("Subscribed");

  // The discount: a mistake is named before any request, then 15 % off with the code pattern.
  await page.goto(`/app/campaigns/${campaign.id}`);
  const discount = page.getByTestId("discount");
  await untilHydrated(async () => {
    await discount.getByLabel("Code pattern").fill("SAVE15", { timeout: 2_000 });
    await discount.getByRole("button", { name: "Save discount" }).click({ timeout: 2_000 });
    await expect(discount.getByText(/needs \{code\} exactly once/)).toBeVisible({ timeout: 2_000 });
  });
  await discount.getByLabel("Make a code in Shopify for each approved affiliate").check();
  await discount.getByRole("textbox", { name: "Percentage off" }).fill("15");
  await discount.getByLabel("Code pattern").fill("{code}15");
  await expect(discount.getByTestId("pattern-example")).toHaveText("Ana's code would be ANA15.");
  await clickCalling(page, discount.getByRole("button", { name: "Save discount" }), "/api/save_campaign_discount");
  await expect(discount.getByTestId("discount-status")).toContainText("Not in Shopify yet");

  // An affiliate is approved: their code appears in the fake store, read back by Rekomi.
  const email = uniqueEmail("ana");
  const code = await applyConfirmed(page, campaign.landingPath, "Ana Lima", email);
  expect(code).toBeTruthy();
  const couponCode = `${code!.toUpperCase()}15`;
  const shopState = async () => (await request.get(`${FAKE_SHOPIFY}/_fake/shopify/shops/${shop}`)).json();
  await expect
    .poll(async () => (await shopState()).discounts.flatMap((d: { codes: string[] }) => d.codes), { timeout: 15_000 })
    .toContain(couponCode);
  await page.reload();
  await expect(discount.getByTestId("codes-active")).toHaveText("1", { timeout: 10_000 });
  await expect(discount.getByTestId("discount-status")).toContainText("15 % off · once per customer");
  await page.screenshot({ path: "test-results/screens/discount-codes.png", fullPage: true });

  // The pixel's code is on the tracking page, with this shop's report address.
  await page.goto("/app/tracking");
  const pixel = await page.getByTestId("pixel-code").inputValue();
  const reportUrl = /const REKOMI_URL = "([^"]+)"/.exec(pixel)?.[1] ?? "";
  expect(reportUrl).toMatch(/\/pixel\/[a-z0-9-]+$/);

  // An order with the code, and one the pixel linked to a click (reported before the order).
  const order = await (await request.post(`${FAKE_SHOPIFY}/_fake/shopify/shops/${shop}/orders`, {
    data: { subtotal: "100.00", discount_codes: [couponCode], email: "buyer@example.com" },
  })).json();
  expect(order.deliveries).toBe(1);
  const reported = await request.post(reportUrl, {
    headers: { "content-type": "text/plain" },
    data: JSON.stringify({ order_id: `gid://shopify/Order/${order.id + 1}`, checkout_token: `tok-${id}`, touches: `${code}.${Date.now() - 60_000}` }),
  });
  expect(reported.status(), await reported.text()).toBe(202);
  await request.post(`${FAKE_SHOPIFY}/_fake/shopify/shops/${shop}/orders`, {
    data: { subtotal: "50.00", checkout_token: `tok-${id}`, email: "other@example.com" },
  });

  // Both earn; a refund of half the first order halves its commission.
  const headers = { "content-type": "application/json" };
  const affiliates = await page.request.post("/api/approval_queue", { headers, data: { filter: { state: "approved", campaign: null, search: email, page: 0 } } });
  const affiliateId = (await affiliates.json()).items[0].id as number;
  const earnings = async () => (await page.request.post("/api/affiliate_earnings", { headers, data: { id: affiliateId } })).json();
  await expect.poll(async () => (await earnings()).conversions, { timeout: 15_000 }).toBe(2);
  await request.post(`${FAKE_SHOPIFY}/_fake/shopify/shops/${shop}/orders/${order.id}/refunds`, { data: { amount: "50.00" } });
  await expect.poll(async () => (await earnings()).earnings.pending, { timeout: 15_000 }).toBe("10.00 USD");

  // The merchant pays the run as store credit: the fake shop records one credit for Ana.
  await page.goto("/app/payouts");
  await untilHydrated(async () => {
    if (await page.locator('[data-testid^="run-"]').first().isVisible()) return;
    await clickCalling(page, page.getByTestId("create-run"), "/api/create_payout_run");
  });
  const run = page.locator('[data-testid^="run-"]').first();
  await run.getByRole("button", { name: "Pay as Shopify store credit" }).click();
  await clickCalling(page, run.getByTestId("confirm-store-credit"), "/api/pay_run_store_credit");
  await expect(run.getByTestId("run-status")).toContainText("reference Shopify store credit", { timeout: 15_000 });
  await expect(run.getByTestId("payout-state").first()).toContainText("Store credit: credited");
  await page.screenshot({ path: "test-results/screens/payout-store-credit.png", fullPage: true });
  const customers = (await shopState()).customers as { email: string; credits: { amount: string }[] }[];
  const ana = customers.find((c) => c.email === email);
  expect(ana?.credits.map((c) => c.amount)).toEqual(["10.00"]);
  await page.reload();
  await expect(page.locator('[data-testid^="run-"]').first().getByTestId("run-status")).toContainText("reference Shopify store credit");

  // Missed orders: reading the last day finds both orders already recorded (nothing counted twice).
  await page.goto("/app/shopify");
  const missed = page.getByTestId("missed-orders");
  await expect(missed).toContainText("Every ten minutes Rekomi reads the orders");
  await untilHydrated(async () => {
    await missed.getByLabel("Recover orders from the last").selectOption("1", { timeout: 2_000 });
    await clickCalling(page, missed.getByRole("button", { name: "Recover orders" }), "/api/recover_shop_orders");
  });
  await expect(page.getByText(/Read 2 orders from Shopify: 0 order\(s\) and 0 refund\(s\)/)).toBeVisible();
  await page.screenshot({ path: "test-results/screens/shopify-missed-orders.png", fullPage: true });

  // The portal shows the code, what it gives, and the link that applies it.
  const link = await page.request.post("/api/portal_link", { headers, data: { id: affiliateId } });
  const [portalUrl] = (await link.json()) as [string, boolean];
  const visitor = await browser.newContext();
  const portal = await visitor.newPage();
  const portalErrors = collectPageErrors(portal);
  await portal.goto(portalUrl);
  await portal.getByRole("button", { name: "Sign in to your dashboard" }).click();
  await expect(portal.getByRole("heading", { name: "Hi Ana" })).toBeVisible();
  await expect(portal.locator("#coupon")).toHaveValue(couponCode);
  await expect(portal.getByText(/Discount code for your audience \(15 % off/)).toBeVisible();
  await expect(portal.locator("#coupon-link")).toHaveValue(`https://${shop}/discount/${couponCode}?redirect=%2F%3Fref%3D${code}`);
  await portal.screenshot({ path: "test-results/screens/portal-discount-code.png", fullPage: true });
  await visitor.close();
  expect(portalErrors).toEqual([]);
  expect(errors).toEqual([]);
});
