import { expect, test } from "@playwright/test";
import {
  PASSWORD,
  collectPageErrors,
  createCampaign,
  klaviyoProfile,
  openWithoutJavaScript,
  queueRow,
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

/**
 * The Klaviyo sync as a merchant sees it, against the demo fake Klaviyo (jobs apply after 500 ms):
 * an approval turns into "In Klaviyo" on the queue without a reload (server-sent events), the
 * health panel counts it, and the affiliate's page lists every Klaviyo call made for it.
 */
test("an approved affiliate shows as In Klaviyo live, with the calls made for it", async ({ page, browser, baseURL }) => {
  const errors = collectPageErrors(page);
  await signUp(page, `Sync Shop ${uniqueId()}`, uniqueEmail("sync"), PASSWORD);
  // Connection set-up is covered by klaviyo.spec.ts; here it goes through the same server functions.
  const call = serverCaller(page);
  await call("connect_klaviyo", { key: "pk_demo_rekomi_full_access_0001", confirm_account_id: null });
  await call("choose_default_list", { list_id: "AFFIL1" });
  const campaign = await createCampaign(page, { name: `Trail ${uniqueId()}`, pitch: "Earn with us.", terms: "Be nice." });

  const email = uniqueEmail("ana");
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    await visitor.page.goto(campaign.landingPath);
    const response = await submitApplication(visitor.page, { name: "Ana Maria Silva", email });
    expect(response.status()).toBe(200);
    await confirmEmail(visitor.page, await verifyLink(page, FAKE, email));
    await expect(visitor.page.getByRole("heading", { name: "Thanks, Ana Maria!" })).toBeVisible();
  } finally {
    await visitor.context.close();
  }

  await page.goto("/app/queue");
  await expect(page.getByTestId("sync-health")).toContainText("Klaviyo sync");
  const row = queueRow(page, email);
  await untilHydrated(async () => {
    if ((await row.locator("[data-sync-state]").count()) > 0) return;
    await page.getByRole("tab", { name: /^All/ }).click({ timeout: 2_000 });
    await expect(page.getByRole("tab", { name: /^All/ })).toHaveAttribute("aria-selected", "true", { timeout: 2_000 });
    await row.getByRole("button", { name: "Approve", exact: true }).click({ timeout: 2_000 });
    await expect(row.locator("[data-sync-state]")).toHaveCount(1, { timeout: 3_000 });
  });
  // From here on the page is not reloaded: the feed brings the verified state.
  await expect(row.locator("[data-sync-state]")).toHaveAttribute("data-sync-state", "succeeded", { timeout: 15_000 });
  await expect(row.locator(".badge.sync-succeeded")).toHaveText("In Klaviyo");
  await expect(page.locator('[data-count="succeeded"] dd')).toHaveText("1", { timeout: 5_000 });
  await expect(page.getByTestId("sync-health")).toContainText("live");

  await row.getByRole("link", { name: "Ana Maria Silva" }).click();
  await expect(page.getByRole("heading", { name: "Ana Maria Silva", level: 1 })).toBeVisible();
  await expect(page.getByTestId("affiliate-sync")).toContainText("In Klaviyo");
  const log = page.getByTestId("sync-log");
  await expect(log).toContainText("POST /api/profile-import");
  await expect(log).toContainText("POST /api/profile-subscription-bulk-create-jobs");
  await expect(log).toContainText("GET /api/lists/{id}/profiles");
  expect(errors).toEqual([]);
});

/** The fake Klaviyo's control API (scripts/test.sh starts it in demo mode on port 3100). */

test("affiliates approved before Klaviyo are synced with one click, and a failed sync is retried from its page", async ({
  page,
  browser,
  baseURL,
}) => {
  const errors = collectPageErrors(page);
  await signUp(page, `Late Shop ${uniqueId()}`, uniqueEmail("late"), PASSWORD);
  const call = serverCaller(page);
  const campaign = await createCampaign(page, { name: `Late ${uniqueId()}`, pitch: "Earn with us.", terms: "Be nice." });
  const email = uniqueEmail("bo");
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    await visitor.page.goto(campaign.landingPath);
    expect((await submitApplication(visitor.page, { name: "Bo Lind", email })).status()).toBe(200);
  } finally {
    await visitor.context.close();
  }
  const queue = (await call("approval_queue", { filter: {} })) as { items: { id: number; email: string }[] };
  const id = queue.items.find((item) => item.email === email)?.id;
  expect(id).toBeDefined();
  // No Klaviyo yet to carry a link: the merchant confirms Bo's address.
  await call("verify_emails", { ids: [id] });
  await call("decide_applications", { ids: [id], decision: "approve" });

  // Klaviyo comes later, with a list of its own that is then deleted in Klaviyo.
  const list = `E2E${uniqueId().slice(-6).toUpperCase()}`;
  const created = await page.request.post(`${FAKE}/_fake/accounts/DEMO01/lists`, { data: { id: list, name: `Late ${list}` } });
  expect(created.status()).toBe(201);
  await call("connect_klaviyo", { key: "pk_demo_rekomi_full_access_0001", confirm_account_id: null });
  await call("choose_default_list", { list_id: list });
  expect((await page.request.delete(`${FAKE}/_fake/accounts/DEMO01/lists/${list}`)).status()).toBe(204);

  await page.goto("/app/queue");
  const panel = page.getByTestId("sync-health");
  await expect(panel).toContainText("1 approved affiliate was never synced");
  const row = queueRow(page, email);
  await untilHydrated(async () => {
    if ((await row.locator("[data-sync-state]").count()) > 0) return;
    await page.getByRole("tab", { name: /^All/ }).click({ timeout: 2_000 });
    await expect(row).toHaveCount(1, { timeout: 2_000 });
    if (await panel.getByRole("button", { name: "Sync all approved" }).isVisible()) {
      await panel.getByRole("button", { name: "Sync all approved" }).click({ timeout: 2_000 });
    }
    await expect(row.locator("[data-sync-state]")).toHaveCount(1, { timeout: 3_000 });
  });
  await expect(row.locator("[data-sync-state]")).toHaveAttribute("data-sync-state", "failed", { timeout: 15_000 });
  await expect(page.getByTestId("last-sync-error")).toBeVisible();

  await row.getByRole("link", { name: "Bo Lind" }).click();
  await expect(page.locator(".sync-reason")).toContainText(`The Klaviyo list ${list} no longer exists`);
  // The merchant restores the list in Klaviyo, then retries from the affiliate's page.
  expect((await page.request.post(`${FAKE}/_fake/accounts/DEMO01/lists`, { data: { id: list, name: `Late ${list}` } })).status()).toBe(201);
  await untilHydrated(async () => {
    if ((await page.getByRole("button", { name: "Retry now" }).count()) === 0) return;
    await page.getByRole("button", { name: "Retry now" }).click({ timeout: 2_000 });
    await expect(page.getByRole("button", { name: "Retry now" })).toHaveCount(0, { timeout: 5_000 });
  });
  await expect(page.getByTestId("affiliate-sync")).toContainText("In Klaviyo", { timeout: 15_000 });
  expect(errors).toEqual([]);
});

test("disabling an affiliate takes them out of the Klaviyo list with consent untouched, and enabling brings them back", async ({
  page,
  browser,
  baseURL,
}) => {
  const errors = collectPageErrors(page);
  await signUp(page, `Pause Shop ${uniqueId()}`, uniqueEmail("pause"), PASSWORD);
  const call = serverCaller(page);
  await call("connect_klaviyo", { key: "pk_demo_rekomi_full_access_0001", confirm_account_id: null });
  await call("choose_default_list", { list_id: "AFFIL1" });
  const campaign = await createCampaign(page, { name: `Pause ${uniqueId()}`, pitch: "Earn with us.", terms: "Be nice." });
  const email = uniqueEmail("cy");
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    await visitor.page.goto(campaign.landingPath);
    expect((await submitApplication(visitor.page, { name: "Cy Park", email })).status()).toBe(200);
    await confirmEmail(visitor.page, await verifyLink(page, FAKE, email));
  } finally {
    await visitor.context.close();
  }
  const queue = (await call("approval_queue", { filter: {} })) as { items: { id: number; email: string }[] };
  const id = queue.items.find((item) => item.email === email)?.id;
  expect(id).toBeDefined();
  await call("decide_applications", { ids: [id], decision: "approve" });

  /** Cy as the fake Klaviyo holds them: in the list?, consent, and the Rekomi properties. */
  const inKlaviyo = klaviyoProfile(page, FAKE, email);

  await page.goto(`/app/affiliates/${id}`);
  await expect(page.getByTestId("affiliate-sync")).toContainText("In Klaviyo", { timeout: 15_000 });
  expect(await inKlaviyo()).toEqual({ member: true, consent: "SUBSCRIBED", affiliate: true, status: "active" });

  const standing = page.getByTestId("standing");
  await untilHydrated(async () => {
    if (await page.getByRole("heading", { name: "Disabled", level: 2, exact: true }).isVisible()) return;
    await standing.getByLabel(/^Reason/).fill("Paused for the season", { timeout: 2_000 });
    await standing.getByRole("button", { name: "Disable affiliate" }).click({ timeout: 2_000 });
    await expect(page.getByRole("heading", { name: "Disabled", level: 2, exact: true })).toBeVisible({ timeout: 3_000 });
  });
  await expect(page.getByRole("status").filter({ hasText: "is disabled" })).toBeVisible();
  await expect(page.getByTestId("affiliate-sync")).toContainText("Out of the list", { timeout: 15_000 });
  await expect(page.locator(".audit")).toContainText("Paused for the season");
  expect(await inKlaviyo()).toEqual({ member: false, consent: "SUBSCRIBED", affiliate: false, status: "disabled" });

  // After a reload the page still knows, and enabling brings Cy back with the consent they had.
  await page.reload();
  await untilHydrated(async () => {
    if (await page.getByRole("heading", { name: "Disable", level: 2, exact: true }).isVisible()) return;
    await page.getByRole("button", { name: "Enable affiliate" }).click({ timeout: 2_000 });
    await expect(page.getByRole("heading", { name: "Disable", level: 2, exact: true })).toBeVisible({ timeout: 3_000 });
  });
  await expect(page.getByTestId("affiliate-sync")).toContainText("In Klaviyo", { timeout: 15_000 });
  expect(await inKlaviyo()).toEqual({ member: true, consent: "SUBSCRIBED", affiliate: true, status: "active" });
  expect(errors).toEqual([]);
});
