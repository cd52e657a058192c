import { expect, test, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import {
  PASSWORD,
  clickCalling,
  collectPageErrors,
  createCampaign,
  signUp,
  uniqueEmail,
  uniqueId,
  untilHydrated,
} from "./helpers";

/**
 * The Klaviyo connection against the fake Klaviyo started in demo mode (scripts/test.sh does it):
 * its demo account has 35 lists (four pages of ten) and keys with and without Subscriptions.
 */
const FULL_KEY = "pk_demo_rekomi_full_access_0001";
const NO_SUBSCRIPTIONS_KEY = "pk_demo_rekomi_no_subscriptions_1";
const MISSING_SUBSCRIPTIONS =
  "This key is missing the Subscriptions Full permission. In Klaviyo, open Settings → API keys, edit the key " +
  "(or create a new one) with Accounts Read, Lists Full, Profiles Full, Subscriptions Full and Events Full, then paste it here.";

/** Every server-function answer the page received, to prove none carries a key. */
function recordApiAnswers(page: Page): string[] {
  const bodies: string[] = [];
  page.on("response", async (response) => {
    if (!new URL(response.url()).pathname.startsWith("/api/")) return;
    try {
      bodies.push(await response.text());
    } catch {
      // A navigation can discard a body; the next answer is checked all the same.
    }
  });
  return bodies;
}

function assertNoKey(where: string, text: string, keys: string[]) {
  for (const key of keys) {
    expect(text.includes(key), `${where} contains ${key.slice(0, 8)}…`).toBe(false);
    expect(text.includes(key.slice(3)), `${where} contains the key without its prefix`).toBe(false);
  }
}

async function openKlaviyoPage(page: Page) {
  await page.goto("/app/klaviyo");
  await expect(page.getByRole("heading", { name: "Klaviyo", level: 1 })).toBeVisible();
}

async function testKey(page: Page, key: string, expectVisible: () => Promise<void>) {
  await untilHydrated(async () => {
    const field = page.getByLabel("Private API key");
    await field.fill(key, { timeout: 2_000 });
    await clickCalling(page, page.getByRole("button", { name: "Test connection" }), "/api/connect_klaviyo");
    await expectVisible();
  });
}

test("a key lacking Subscriptions is refused with the exact permission, then a good key connects and a list is picked", async ({
  page,
}) => {
  const errors = collectPageErrors(page);
  const answers = recordApiAnswers(page);
  await signUp(page, `Klaviyo Shop ${uniqueId()}`, uniqueEmail("klaviyo"), PASSWORD);
  await openKlaviyoPage(page);
  await expect(page.getByText("Subscriptions Full", { exact: true })).toBeVisible();

  // Malformed keys are caught in the browser, before any call.
  await untilHydrated(async () => {
    await page.getByLabel("Private API key").fill("AbC123", { timeout: 2_000 });
    await page.getByRole("button", { name: "Test connection" }).click({ timeout: 2_000 });
    await expect(page.locator("#klaviyo-key-error")).toContainText("public API key", { timeout: 1_500 });
  });

  await testKey(page, NO_SUBSCRIPTIONS_KEY, async () => {
    await expect(page.getByTestId("missing-scopes")).toBeVisible({ timeout: 5_000 });
  });
  await expect(page.getByTestId("missing-scopes").locator("p").first()).toHaveText(MISSING_SUBSCRIPTIONS);
  await expect(page.getByTestId("missing-scopes").locator("li.scope.missing")).toHaveText(["Subscriptions Full: missing"]);
  await expect(page.getByTestId("connection")).toHaveCount(0);

  await testKey(page, FULL_KEY, async () => {
    await expect(page.getByTestId("connection")).toBeVisible({ timeout: 5_000 });
  });
  await expect(page.getByTestId("connection").getByRole("heading")).toHaveText("Connected to Demo Outdoor Co.");
  await expect(page.getByTestId("key-hint")).toHaveText("pk_…0001");
  await expect(page.getByLabel("Private API key")).toHaveCount(0);

  // The picker holds every list from all four pages, searchable.
  await expect(page.getByTestId("list-count")).toHaveText("35 lists", { timeout: 10_000 });
  await page.getByRole("searchbox", { name: "Search lists" }).fill("affiliates");
  await expect(page.getByTestId("list-count")).toHaveText("2 of 35 lists");
  await page.getByRole("radio", { name: "Affiliates (double opt-in) Double opt-in", exact: true }).check();
  await expect(page.getByTestId("double-opt-in-warning")).toContainText("double opt-in");
  await page.getByRole("radio", { name: "Affiliates Single opt-in", exact: true }).check();
  await expect(page.getByTestId("double-opt-in-warning")).toHaveCount(0);
  await clickCalling(page, page.getByRole("button", { name: "Save default list" }), "/api/choose_default_list");
  await expect(page.getByTestId("chosen-list")).toContainText("Affiliates");
  await expect(page.getByTestId("chosen-list")).toContainText("Single opt-in");

  // Saved: shown again after a reload.
  await page.reload();
  await expect(page.getByTestId("chosen-list")).toContainText("Affiliates", { timeout: 10_000 });
  await expect(page.getByTestId("key-hint")).toHaveText("pk_…0001");

  // A double opt-in default list hydrates too, with its warning.
  await untilHydrated(async () => {
    await page.getByRole("searchbox", { name: "Search lists" }).fill("newsletter", { timeout: 2_000 });
    await page.getByRole("radio", { name: "Newsletter Double opt-in", exact: true }).check({ timeout: 2_000 });
    await clickCalling(page, page.getByRole("button", { name: "Save default list" }), "/api/choose_default_list");
    await expect(page.getByTestId("chosen-list")).toContainText("Newsletter", { timeout: 5_000 });
  });
  await page.reload();
  await expect(page.getByTestId("chosen-list")).toContainText("Newsletter", { timeout: 10_000 });
  await expect(page.getByText("This list uses double opt-in").first()).toBeVisible();
  await expect(page.getByTestId("list-count")).toHaveText("35 lists", { timeout: 10_000 });

  // The key never appears in a page, a server-function answer, or the server's log.
  const keys = [FULL_KEY, NO_SUBSCRIPTIONS_KEY];
  assertNoKey("the page", await page.content(), keys);
  expect(answers.length).toBeGreaterThan(3);
  answers.forEach((body, i) => assertNoKey(`server-function answer #${i}`, body, keys));
  const log = process.env.REKOMI_SERVER_LOG;
  if (log) assertNoKey("the server log", readFileSync(log, "utf8"), keys);
  expect(errors).toEqual([]);
});

test("a campaign can send its affiliates to its own list", async ({ page }) => {
  const errors = collectPageErrors(page);
  await signUp(page, `List Shop ${uniqueId()}`, uniqueEmail("lists"), PASSWORD);
  await openKlaviyoPage(page);
  await testKey(page, FULL_KEY, async () => {
    await expect(page.getByTestId("connection")).toBeVisible({ timeout: 5_000 });
  });
  await createCampaign(page, { name: `VIP ${uniqueId()}`, pitch: "Earn with us.", terms: "Be nice." });
  await expect(page.getByTestId("chosen-list")).toContainText("Uses your default list");
  await page.getByRole("button", { name: "Change list" }).click();
  await page.getByRole("searchbox", { name: "Search lists" }).fill("newsletter");
  await page.getByRole("radio", { name: /Newsletter/ }).check();
  await clickCalling(page, page.getByRole("button", { name: "Save campaign list" }), "/api/choose_campaign_list");
  await expect(page.getByTestId("chosen-list")).toContainText("Newsletter");
  await page.reload();
  await expect(page.getByTestId("chosen-list")).toContainText("Newsletter", { timeout: 10_000 });
  await expect(page.getByText("This list uses double opt-in").first()).toBeVisible();
  expect(errors).toEqual([]);
});
