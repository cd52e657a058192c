import { expect, test, type Page } from "@playwright/test";
import path from "node:path";
import {
  PASSWORD,
  collectPageErrors,
  createCampaign,
  klaviyoProfile,
  openWithoutJavaScript,
  serverCaller,
  signUp,
  submitApplication,
  confirmEmail,
  verifyLink,
  uniqueEmail,
  uniqueId,
  untilHydrated,
} from "./helpers";

const FAKE = process.env.FAKE_KLAVIYO_URL ?? "http://127.0.0.1:3100";
const SCREENS_DIR = path.join(__dirname, "..", "test-results", "screens");

/**
 * An affiliate's life after the first sync, against the demo fake Klaviyo: a change made in
 * Klaviyo (an unsubscribe) is found by the check and shown, never undone; disabling takes them out
 * of the list; enabling leaves their consent as they set it; a ban keeps their address from applying.
 */

async function merchantWithAffiliate(page: Page, browser: any, baseURL: string | undefined, who: string) {
  await signUp(page, `Life Shop ${uniqueId()}`, uniqueEmail("life"), PASSWORD);
  const call = serverCaller(page);
  await call("connect_klaviyo", { key: "pk_demo_rekomi_full_access_0001", confirm_account_id: null });
  await call("choose_default_list", { list_id: "AFFIL1" });
  const campaign = await createCampaign(page, { name: `Life ${uniqueId()}`, pitch: "Earn with us.", terms: "Be nice." });
  const email = uniqueEmail(who);
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    await visitor.page.goto(campaign.landingPath);
    expect((await submitApplication(visitor.page, { name: "Dee Moss", email })).status()).toBe(200);
    await expect(visitor.page.getByRole("heading", { name: "Almost there, Dee: confirm your email" })).toBeVisible();
    // Dee opens the link the merchant's flow emails her.
    await confirmEmail(visitor.page, await verifyLink(page, FAKE, email));
    await expect(visitor.page.getByRole("heading", { name: "Thanks, Dee!" })).toBeVisible();
  } finally {
    await visitor.context.close();
  }
  const queue = (await call("approval_queue", { filter: {} })) as { items: { id: number; email: string }[] };
  const id = queue.items.find((item) => item.email === email)?.id;
  expect(id).toBeDefined();
  await call("decide_applications", { ids: [id], decision: "approve" });
  const inKlaviyo = klaviyoProfile(page, FAKE, email);
  return { id: id as number, email, campaign, inKlaviyo };
}

test("an unsubscribe made in Klaviyo is found, shown and respected through disable and enable", async ({
  page,
  browser,
  baseURL,
}) => {
  const errors = collectPageErrors(page);
  const { id, email, inKlaviyo } = await merchantWithAffiliate(page, browser, baseURL, "dee");
  await page.goto(`/app/affiliates/${id}`);
  await expect(page.getByTestId("affiliate-sync")).toContainText("In Klaviyo", { timeout: 15_000 });

  // Dee clicks "unsubscribe" in one of the merchant's emails.
  const acted = await page.request.post(`${FAKE}/_fake/accounts/DEMO01/people`, {
    data: { action: "unsubscribe", email },
  });
  expect(acted.status()).toBe(204);

  // The merchant asks for a check instead of waiting for tomorrow's.
  await page.goto("/app/queue");
  const panel = page.getByTestId("sync-health");
  await untilHydrated(async () => {
    await panel.getByRole("button", { name: "Check now" }).click({ timeout: 2_000 });
    await expect(panel.getByTestId("drifted")).toBeVisible({ timeout: 5_000 });
  });
  await expect(panel.getByTestId("drifted")).toContainText("1 affiliate changed in Klaviyo");
  await expect(panel.getByTestId("klaviyo-checks")).toContainText("last read back from Klaviyo");
  await panel.getByRole("link", { name: /changed in Klaviyo/ }).click();
  await expect(page).toHaveURL(/\/app\/queue\?drift=1$/);
  const row = page.locator("tr", { hasText: email });
  await expect(row).toContainText("Unsubscribed in Klaviyo");
  await expect(page.getByTestId("drift-filter")).toBeChecked();
  await page.screenshot({ path: path.join(SCREENS_DIR, "desktop-queue-drift.png"), fullPage: true });

  // Directly, as after a reload: the affiliate's page says so too, with the date it was noticed.
  await page.goto(`/app/affiliates/${id}`);
  await expect(page.getByTestId("affiliate-sync")).toContainText("Unsubscribed in Klaviyo");
  await expect(page.getByTestId("affiliate-sync")).toContainText("noticed");
  expect(await inKlaviyo()).toEqual({ member: true, consent: "UNSUBSCRIBED", affiliate: true, status: "active" });

  // Disabling takes Dee out of the list; the consent stays theirs.
  const standing = page.getByTestId("standing");
  await untilHydrated(async () => {
    if (await page.getByRole("heading", { name: "Disabled", level: 2, exact: true }).isVisible()) return;
    await standing.getByRole("button", { name: "Disable affiliate" }).click({ timeout: 2_000 });
    await expect(page.getByRole("heading", { name: "Disabled", level: 2, exact: true })).toBeVisible({ timeout: 3_000 });
  });
  await expect(page.getByTestId("affiliate-sync")).toContainText("Out of the list", { timeout: 15_000 });
  expect(await inKlaviyo()).toEqual({ member: false, consent: "UNSUBSCRIBED", affiliate: false, status: "disabled" });
  const disabledEvents = async () => {
    const account = await (await page.request.get(`${FAKE}/_fake/accounts/DEMO01`)).json();
    return (account.events as any[]).filter(
      (e) => e.metric.data.attributes.name === "Rekomi Affiliate Disabled" && e.profile.data.attributes.email === email,
    ).length;
  };
  await expect.poll(disabledEvents, { timeout: 15_000 }).toBe(1);

  // Enabling brings Dee back into the program, not into the list: nobody re-subscribes them.
  await untilHydrated(async () => {
    if (await page.getByRole("heading", { name: "Disable", level: 2, exact: true }).isVisible()) return;
    await page.getByRole("button", { name: "Enable affiliate" }).click({ timeout: 2_000 });
    await expect(page.getByRole("heading", { name: "Disable", level: 2, exact: true })).toBeVisible({ timeout: 3_000 });
  });
  await expect(page.getByTestId("affiliate-sync")).toContainText("Not subscribed", { timeout: 15_000 });
  expect(await inKlaviyo()).toEqual({ member: false, consent: "UNSUBSCRIBED", affiliate: true, status: "active" });
  expect(errors).toEqual([]);
});

test("a banned affiliate is out for good and the address they applied from can't apply again", async ({
  page,
  browser,
  baseURL,
}) => {
  const errors = collectPageErrors(page);
  const { id, campaign, inKlaviyo } = await merchantWithAffiliate(page, browser, baseURL, "eve");
  await page.goto(`/app/affiliates/${id}`);
  await expect(page.getByTestId("affiliate-sync")).toContainText("In Klaviyo", { timeout: 15_000 });
  const ban = page.getByTestId("ban");
  await untilHydrated(async () => {
    if (await page.getByRole("heading", { name: "Banned", level: 2, exact: true }).isVisible()) return;
    await ban.getByLabel("Reason (required)").fill("Coupon posted on deal sites", { timeout: 2_000 });
    await ban.getByLabel(/Also refuse applications/).check({ timeout: 2_000 });
    await ban.getByRole("button", { name: "Ban affiliate" }).click({ timeout: 2_000 });
    await expect(page.getByRole("heading", { name: "Banned", level: 2, exact: true })).toBeVisible({ timeout: 3_000 });
  });
  await expect(page.getByRole("status").filter({ hasText: "is banned" })).toBeVisible();
  await expect(page.getByTestId("affiliate-sync")).toContainText("Out of the list", { timeout: 15_000 });
  await expect(page.locator(".audit")).toContainText("Coupon posted on deal sites");
  expect(await inKlaviyo()).toEqual({ member: false, consent: "SUBSCRIBED", affiliate: false, status: "banned" });
  await page.screenshot({ path: path.join(SCREENS_DIR, "desktop-affiliate-banned.png"), fullPage: true });

  // The queue's Banned tab lists them.
  await page.goto("/app/queue");
  await untilHydrated(async () => {
    await page.getByRole("tab", { name: /^Banned \(1\)/ }).click({ timeout: 2_000 });
    await expect(page.getByRole("button", { name: "Lift the ban on selected" })).toBeVisible({ timeout: 3_000 });
  });

  // Another application from the same address (the browser, without JavaScript) is refused.
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    await visitor.page.goto(campaign.landingPath);
    const response = await submitApplication(visitor.page, { name: "Eve Again", email: uniqueEmail("eve2") });
    expect(response.status()).toBe(403);
    await expect(visitor.page.getByRole("heading", { name: "Application not accepted" })).toBeVisible();
  } finally {
    await visitor.context.close();
  }
  expect(errors).toEqual([]);
});

test("erasing an affiliate's personal data leaves a pseudonym and takes back what Rekomi wrote in Klaviyo", async ({
  page,
  browser,
  baseURL,
}) => {
  const errors = collectPageErrors(page);
  const { id, email, inKlaviyo } = await merchantWithAffiliate(page, browser, baseURL, "gdpr");
  await page.goto(`/app/affiliates/${id}`);
  await expect(page.getByTestId("affiliate-sync")).toContainText("In Klaviyo", { timeout: 15_000 });
  const erase = page.getByTestId("erase");
  await untilHydrated(async () => {
    if (await page.getByTestId("erased").isVisible()) return;
    await erase.getByLabel("I understand this can't be undone").check({ timeout: 2_000 });
    await erase.getByRole("button", { name: "Erase personal data" }).click({ timeout: 2_000 });
    await expect(page.getByTestId("erased")).toBeVisible({ timeout: 3_000 });
  });
  await expect(page.getByRole("heading", { name: "Erased affiliate", level: 1 })).toBeVisible();
  await expect(page.locator("body")).not.toContainText(email);
  await expect
    .poll(async () => JSON.stringify(await inKlaviyo()), { timeout: 15_000 })
    .toBe(JSON.stringify({ member: false, consent: "SUBSCRIBED" }));
  // Directly, as after a reload.
  await page.reload();
  await expect(page.getByTestId("erased")).toBeVisible();
  await page.screenshot({ path: path.join(SCREENS_DIR, "desktop-affiliate-erased.png"), fullPage: true });
  expect(errors).toEqual([]);
});

test("a new default list moves affiliates when the merchant says so, and removing the old membership is their choice", async ({
  page,
  browser,
  baseURL,
}) => {
  const errors = collectPageErrors(page);
  const { id, email, inKlaviyo } = await merchantWithAffiliate(page, browser, baseURL, "fay");
  await page.goto(`/app/affiliates/${id}`);
  await expect(page.getByTestId("affiliate-sync")).toContainText("In Klaviyo", { timeout: 15_000 });

  // A new list in Klaviyo becomes the default: nobody moves until the merchant says so.
  const list = `MV${uniqueId().slice(-6).toUpperCase()}`;
  const created = await page.request.post(`${FAKE}/_fake/accounts/DEMO01/lists`, { data: { id: list, name: `Partners ${list}` } });
  expect(created.status()).toBe(201);
  await serverCaller(page)("choose_default_list", { list_id: list });
  const inNewList = klaviyoProfile(page, FAKE, email, list);
  expect((await inNewList()).member).toBe(false);

  // The Klaviyo page, loaded directly: the preview names both lists and how many would move.
  await page.goto("/app/klaviyo");
  const card = page.getByTestId("list-moves");
  await expect(card).toContainText(`1 affiliate: Affiliates → Partners ${list}`, { timeout: 10_000 });
  await page.screenshot({ path: path.join(SCREENS_DIR, "desktop-klaviyo-moves.png"), fullPage: true });
  await card.getByLabel(/Also remove them from the old list/).check();
  await card.getByRole("button", { name: "Move 1 affiliate" }).click();
  await expect(page.getByText("1 affiliate is joining their campaign's list; 1 leaving the old lists.")).toBeVisible();
  await expect(card).toHaveCount(0);

  await expect.poll(async () => (await inNewList()).member, { timeout: 15_000 }).toBe(true);
  await expect.poll(async () => (await inKlaviyo()).member, { timeout: 15_000 }).toBe(false);
  // List membership only: the consent and the properties are an active affiliate's.
  expect(await inKlaviyo()).toEqual({ member: false, consent: "SUBSCRIBED", affiliate: true, status: "active" });
  await page.goto(`/app/affiliates/${id}`);
  await expect(page.getByTestId("affiliate-sync")).toContainText("In Klaviyo", { timeout: 15_000 });
  await expect(page.getByTestId("affiliate-sync")).toContainText(list);
  expect(errors).toEqual([]);
});
