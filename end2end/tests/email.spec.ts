import { expect, test, type Page } from "@playwright/test";
import {
  PASSWORD,
  collectPageErrors,
  createCampaign,
  openWithoutJavaScript,
  queueItems,
  serverCaller,
  signUp,
  submitApplication,
  uniqueEmail,
  uniqueId,
  untilHydrated,
} from "./helpers";

/**
 * Rekomi sends no email itself: every text that says something is emailed is true only while the
 * merchant's Klaviyo can carry it. Each such text, with Klaviyo disconnected, connected, and with an
 * event switched off.
 */
test("texts that promise an email say how it goes, or who hands it out instead", async ({ page, browser, baseURL }) => {
  test.setTimeout(90_000);
  const errors = collectPageErrors(page);
  const shop = `Mail Shop ${uniqueId()}`;
  await signUp(page, shop, uniqueEmail("mail"), PASSWORD);
  const call = serverCaller(page);
  const campaign = await createCampaign(page, { name: `Mail ${uniqueId()}`, pitch: "Earn.", terms: "Be nice." });
  const { portal_url: portal } = await call("tracking_settings", {});
  const visitor = await openWithoutJavaScript(browser, baseURL);
  const apply = async (name: string, email: string) => {
    await visitor.page.goto(campaign.landingPath);
    expect((await submitApplication(visitor.page, { name, email })).status()).toBe(200);
    return visitor.page.locator("section.outcome");
  };
  /** The affiliate page's portal link and what it says about email. */
  const portalLinkText = async (email: string) => {
    const applicant = (await queueItems(page)).find((item) => item.email === email)!;
    await call("verify_emails", { ids: [applicant.id] });
    await call("decide_applications", { ids: [applicant.id], decision: "approve" });
    await page.goto(`/app/affiliates/${applicant.id}`);
    const link = page.getByTestId("portal-link");
    await untilHydrated(async () => {
      if (await link.isVisible()) return;
      await page.getByRole("button", { name: "Get a portal sign-in link" }).click({ timeout: 2_000 });
      await expect(link).toBeVisible({ timeout: 3_000 });
    });
    return page.locator('[role="status"]').filter({ has: link });
  };
  const eventStatus = (metric: string) => page.locator(`tr[data-metric="${metric}"] [data-testid=event-status]`);

  try {
    // Klaviyo not connected: nothing is promised by email; the merchant is named instead.
    const ana = uniqueEmail("ana");
    const outcome = await apply("Ana Lima", ana);
    await expect(outcome).toContainText(`Your application is in. ${shop} confirms your email address`);
    await expect(outcome).not.toContainText("sends a link");
    await visitor.page.goto(portal);
    await expect(visitor.page.locator("main")).toContainText(`${shop} hands out sign-in links personally`);
    await expect(visitor.page.getByRole("button", { name: "Email me a sign-in link" })).toHaveCount(0);
    await expect(await portalLinkText(ana)).toContainText("Klaviyo is not connected, so nothing was emailed: send it yourself.");
    await page.goto("/app/integrations");
    await expect(eventStatus("Rekomi Affiliate Verify Email")).toHaveText("Not sent: Klaviyo isn't connected");
    await expect(eventStatus("Rekomi Affiliate Login Link")).toHaveText("Not sent: Klaviyo isn't connected");

    // Connected: each text names the way the email goes.
    await call("connect_klaviyo", { key: "pk_demo_rekomi_full_access_0001", confirm_account_id: null });
    await call("choose_default_list", { list_id: "AFFIL1" });
    const bo = uniqueEmail("bo");
    const connected = await apply("Bo Berg", bo);
    await expect(connected.getByRole("heading")).toHaveText("Almost there, Bo: confirm your email");
    await expect(connected).toContainText(`${shop} sends a link to the address you entered.`);
    await visitor.page.goto(portal);
    await expect(visitor.page.locator("main")).toContainText(`${shop} emails you a sign-in link`);
    await expect(visitor.page.getByRole("button", { name: "Email me a sign-in link" })).toBeVisible();
    await expect(await portalLinkText(bo)).toContainText("Also sent to Klaviyo as the Rekomi Affiliate Login Link event");
    await expect(async () => {
      await page.goto("/app/integrations");
      await expect(eventStatus("Rekomi Affiliate Verify Email")).toContainText("1 received, the last on", { timeout: 1_000 });
      // One sign-in link event for each link asked for (the page's button may have been pressed twice).
      await expect(eventStatus("Rekomi Affiliate Login Link")).toContainText(/^\d+ received, the last on/, { timeout: 1_000 });
    }).toPass({ timeout: 15_000 });

    // An event switched off says so where its flow is described.
    await call("switch_event", { metric: "Rekomi Affiliate Approved", on: false });
    await page.goto("/app/integrations");
    await expect(eventStatus("Rekomi Affiliate Approved")).toHaveText("Switched off: not sent");
    await expect(page.locator('tr[data-metric="Rekomi Affiliate Approved"]')).toContainText("{{ event.referral_code }}");
    await page.screenshot({ path: "test-results/screens/integrations-events.png", fullPage: true });
  } finally {
    await visitor.context.close();
  }
  expect(errors).toEqual([]);
});
