import { createHmac } from "node:crypto";
import { readFile } from "node:fs/promises";
import { expect, test } from "@playwright/test";
import { PASSWORD, applyConfirmed, clickCalling, collectPageErrors, createCampaign, signUp, uniqueEmail, uniqueId, untilHydrated } from "./helpers";

/** A shop on another origin: Playwright answers for it, so nothing leaves the machine. Plain http, as
 * the snippet is served over http here and a https page would block it as mixed content. */
const SHOP = "http://shop.example.com";
/** Headless Chromium says "HeadlessChrome", which the bot filter rightly drops. */
const VISITOR_UA =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const SECRET = "shpss_e2e_signing_secret";

test("a tracking link, the shop's snippet and an order webhook end as a pending commission in the portal", async ({
  page,
  browser,
  baseURL,
}) => {
  const errors = collectPageErrors(page);
  const shopName = `Trail ${uniqueId()}`;
  await signUp(page, shopName, uniqueEmail("tracking"), PASSWORD);
  const campaign = await createCampaign(page, {
    name: `Partners ${uniqueId()}`,
    pitch: "Earn with us.",
    terms: "Be nice.",
    autoApprove: true,
    destination: `${SHOP}/`,
  });

  // The merchant pastes the Shopify signing secret and reads the snippet and webhook address.
  await page.goto("/app/tracking");
  await expect(page.getByRole("heading", { name: "Shop & tracking", level: 1 })).toBeVisible();
  await untilHydrated(async () => {
    if (await page.getByText("Signing secret (set;").isVisible()) return;
    await page.getByLabel("Signing secret").fill(SECRET, { timeout: 2_000 });
    await clickCalling(page, page.getByRole("button", { name: "Save secret" }), "/api/set_shopify_secret");
    await expect(page.getByText("Signing secret (set;")).toBeVisible({ timeout: 5_000 });
  });
  const snippet = await page.getByTestId("snippet").inputValue();
  expect(snippet).toContain("/t/snippet.js");
  const webhookUrl = await page.getByTestId("webhook-url").inputValue();

  // An affiliate joins (auto-approved) and gets a code.
  const email = uniqueEmail("ana");
  // No Klaviyo to carry a verification link: the merchant confirms the address, which approves.
  const code = await applyConfirmed(page, campaign.landingPath, "Ana Lima", email);
  expect(code, "confirming approves and hands out a referral code").toBeTruthy();

  // A visitor follows the link and lands on the shop, whose page loads Rekomi's snippet.
  const visitor = await browser.newContext({ userAgent: VISITOR_UA });
  const shopPage = await visitor.newPage();
  // Chromium won't let a page on a public address load a script from a loopback one (Private Network
  // Access); in production both are public. Playwright fetches Rekomi's real snippet instead.
  await shopPage.route(`${baseURL}/t/snippet.js`, async (route) => route.fulfill({ response: await route.fetch() }));
  await shopPage.route(`${SHOP}/**`, (route) =>
    route.fulfill({ contentType: "text/html", body: `<!doctype html><title>Shop</title><h1>Trail shop</h1>${snippet}` }),
  );
  // Chromium follows a redirect in its network stack, past Playwright's routing, so the redirect is
  // read in the visitor's own context (same cookies) and its target opened in the page.
  const redirect = await visitor.request.get(`${baseURL}/r/${code}`, { maxRedirects: 0 });
  expect(redirect.status()).toBe(302);
  const target = redirect.headers()["location"];
  expect(target).toBe(`${SHOP}/?ref=${code}`);
  await shopPage.goto(target);
  await expect.poll(() => shopPage.evaluate(() => document.cookie)).toContain(`rekomi_ref=${code}.`);
  const touches = await shopPage.evaluate(() => (window as unknown as { Rekomi: { touches: string } }).Rekomi.touches);

  // Shopify reports the paid order, with the cart attribute the snippet set.
  const order = JSON.stringify({
    id: Date.now(),
    name: "#1001",
    email: "buyer@example.com",
    currency: "USD",
    subtotal_price: "120.00",
    note_attributes: [{ name: "rekomi_ref", value: touches }],
  });
  const sign = (secret: string) => createHmac("sha256", secret).update(order).digest("base64");
  const post = (signature: string) =>
    page.request.post(webhookUrl, {
      headers: { "content-type": "application/json", "x-shopify-topic": "orders/paid", "x-shopify-hmac-sha256": signature },
      data: order,
    });
  expect((await post(sign("not the secret"))).status()).toBe(401);
  const delivered = await post(sign(SECRET));
  expect(delivered.status(), await delivered.text()).toBe(200);
  expect((await delivered.json()).attributed).toBe(true);

  // The merchant hands the affiliate a portal link (no Klaviyo connected).
  const affiliates = await page.request.post("/api/approval_queue", {
    headers: { "content-type": "application/json" },
    data: { filter: { state: "approved", campaign: null, search: email, page: 0 } },
  });
  const affiliateId = (await affiliates.json()).items[0].id as number;
  const link = await page.request.post("/api/portal_link", {
    headers: { "content-type": "application/json" },
    data: { id: affiliateId },
  });
  const [portalUrl] = (await link.json()) as [string, boolean];

  const portal = await visitor.newPage();
  await portal.goto(portalUrl);
  await portal.getByRole("button", { name: "Sign in to your dashboard" }).click();
  await expect(portal.getByRole("heading", { name: "Hi Ana" })).toBeVisible();
  await expect(portal.getByTestId("pending")).toHaveText("12.00 USD");
  await expect(portal.getByText("#1001")).toBeVisible();
  await expect(portal.locator("#link")).toHaveValue(new RegExp(`/r/${code}$`));

  // The merchant's results show the click and the conversion on the chart.
  await page.goto("/app/results");
  await expect(page.getByRole("heading", { name: "Results", level: 1 })).toBeVisible();
  await expect(page.getByRole("img", { name: /1 click, 1 conversion\./ })).toBeVisible({ timeout: 10_000 });
  await expect(page.getByRole("link", { name: "Ana Lima" })).toBeVisible();

  // Another range: a quick one, then dates typed in; the address keeps it, and what is shown
  // downloads as CSV.
  await page.getByRole("link", { name: "7 days", exact: true }).click();
  await expect(page).toHaveURL(/days=7/);
  await expect(page.getByRole("img", { name: /^7 days from .*: 1 click, 1 conversion\./ })).toBeVisible();
  const today = new Date().toISOString().slice(0, 10);
  await untilHydrated(async () => {
    if (new URL(page.url()).searchParams.get("from") === today) return;
    await page.getByLabel("From", { exact: true }).fill(today, { timeout: 2_000 });
    await page.getByLabel("To", { exact: true }).fill(today, { timeout: 2_000 });
    await page.getByRole("button", { name: "Show" }).click({ timeout: 2_000 });
    await expect(page).toHaveURL(new RegExp(`from=${today}&to=${today}`), { timeout: 2_000 });
  });
  await expect(page.getByTestId("range")).toHaveText(`${today} to ${today}`);
  await page.reload();
  await expect(page.getByTestId("range")).toHaveText(`${today} to ${today}`);
  await expect(page.getByTestId("range-totals")).toHaveText("1 click, 1 conversion, commission earned 12.00 USD.");
  const downloading = page.waitForEvent("download");
  await page.getByRole("link", { name: "top affiliates" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe(`rekomi-results-affiliates-${today}-to-${today}.csv`);
  const csv = await readFile(await download.path(), "utf8");
  expect(csv.split("\n")[0]).toBe("id,name,clicks,conversions,pending,approved,paid,held");
  expect(csv).toContain(",Ana Lima,1,1,12.00 USD,0,0,0");
  await page.screenshot({ path: "test-results/screens/results-range.png", fullPage: true });
  await visitor.close();
  expect(errors).toEqual([]);
});
