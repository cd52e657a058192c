import { readFile } from "node:fs/promises";
import { expect, test } from "@playwright/test";
import { PASSWORD, applyConfirmed, clickCalling, collectPageErrors, createCampaign, signUp, uniqueEmail, uniqueId, untilHydrated } from "./helpers";

/** The fake Klaviyo's control API (scripts/test.sh starts it in demo mode on port 3100). */
const FAKE = process.env.FAKE_KLAVIYO_URL ?? "http://127.0.0.1:3100";

interface FakeEvent {
  properties: Record<string, unknown>;
  metric: { data: { attributes: { name: string } } };
  profile: { data: { attributes: { email: string } } };
}

test("a Klaviyo flow bumps a rate, the order earns at it, and a payout run pays it once", async ({ page, browser }) => {
  const errors = collectPageErrors(page);
  await signUp(page, `Payout Shop ${uniqueId()}`, uniqueEmail("payouts"), PASSWORD);
  const call = async (endpoint: string, data: unknown) => {
    const response = await page.request.post(`/api/${endpoint}`, { headers: { "content-type": "application/json" }, data });
    expect(response.status(), await response.text()).toBe(200);
    return response.json();
  };
  await call("connect_klaviyo", { key: "pk_demo_rekomi_full_access_0001", confirm_account_id: null });
  await call("choose_default_list", { list_id: "AFFIL1" });
  const campaign = await createCampaign(page, {
    name: `Partners ${uniqueId()}`,
    pitch: "Earn with us.",
    terms: "Be nice.",
    autoApprove: true,
    holdDays: "7",
  });

  // The merchant creates an API token in the UI; it is shown once.
  await page.goto("/app/tracking");
  await expect(page.getByRole("heading", { name: "Shop & tracking", level: 1 })).toBeVisible();
  await untilHydrated(async () => {
    if (await page.getByTestId("new-token").isVisible()) return;
    await page.getByLabel("New token for").fill("Klaviyo flows", { timeout: 2_000 });
    await clickCalling(page, page.getByRole("button", { name: "Create token" }), "/api/create_api_token");
    await expect(page.getByTestId("new-token")).toBeVisible({ timeout: 5_000 });
  });
  const token = await page.getByTestId("new-token").inputValue();
  expect(token.length).toBeGreaterThan(20);

  // An affiliate joins (auto-approved).
  const email = uniqueEmail("ana");
  const code = await applyConfirmed(page, campaign.landingPath, "Ana Lima", email, FAKE);
  expect(code, "the page the verification link opens welcomes them with their code").toBeTruthy();

  // Klaviyo's flow webhook action: a POST with static headers and a body rendered from the profile,
  // delivered twice. The second delivery replays the first answer.
  const bump = () =>
    page.request.post("/api/v1/affiliates/rate", {
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      data: { email, percent: "20", reason: "High predicted CLV", idempotency_key: `clv-${email}` },
    });
  const first = await bump();
  expect(first.status(), await first.text()).toBe(200);
  expect((await first.json()).affiliate.rate).toMatchObject({ percent: 20, is_override: true });
  const again = await bump();
  expect(again.headers()["idempotent-replay"]).toBe("true");

  // An order earns 20 % instead of the campaign's 10 %.
  const conversion = await page.request.post("/api/v1/conversions", {
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": `order-${code}` },
    data: { order_id: `W-${uniqueId()}`, amount_minor: 12_000, currency: "USD", referral_code: code },
  });
  expect(conversion.status(), await conversion.text()).toBe(201);
  expect((await conversion.json()).conversion.commission_minor).toBe(2_400);

  // The hold period passes (the test server's clock moves; it is put back at the end).
  expect((await page.request.post("/_test/clock", { data: { days: 8 } })).status()).toBe(200);
  try {
    await page.goto("/app/payouts");
    await expect(page.getByRole("heading", { name: "Payouts", level: 1 })).toBeVisible();
    const run = page.locator("[data-testid^=run-]").first();
    await untilHydrated(async () => {
      if (await run.isVisible()) return;
      await clickCalling(page, page.getByTestId("create-run"), "/api/create_payout_run");
      await expect(run).toBeVisible({ timeout: 5_000 });
    });
    await expect(run.getByRole("heading", { level: 3 })).toContainText("24.00 USD");
    await expect(run.getByRole("cell", { name: email })).toBeVisible();

    // The PayPal Payouts file: no header; email, amount, currency, id, note, wallet.
    const downloading = page.waitForEvent("download");
    await run.getByTestId("paypal-usd").click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/^rekomi-payout-\d+-usd-paypal\.csv$/);
    const file = await readFile(await download.path(), "utf8");
    const lines = file.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${email.replace(/[.+]/g, "\\$&")},24\\.00,USD,RK\\d+-\\d+,Affiliate commission: payout \\d+ \\(1 commissions\\),PAYPAL$`));

    await run.getByTestId("reference").fill("PAYPAL-BATCH-42");
    await clickCalling(page, run.getByTestId("mark-paid"), "/api/mark_run_paid");
    await expect(run.getByTestId("run-status")).toContainText("reference PAYPAL-BATCH-42");

    // The affiliate's portal shows the payout as paid.
    const approved = await page.request.post("/api/approval_queue", {
      headers: { "content-type": "application/json" },
      data: { filter: { state: "approved", campaign: null, search: email, page: 0 } },
    });
    const affiliateId = (await approved.json()).items[0].id as number;
    const [portalUrl] = (await call("portal_link", { id: affiliateId })) as [string, boolean];
    const affiliate = await browser.newContext();
    const portal = await affiliate.newPage();
    await portal.goto(portalUrl);
    await portal.getByRole("button", { name: "Sign in to your dashboard" }).click();
    await expect(portal.getByTestId("payouts")).toContainText("24.00 USD");
    await expect(portal.getByTestId("payouts")).toContainText(`Paid`);
    await affiliate.close();
  } finally {
    await page.request.post("/_test/clock", { data: { days: -8 } });
  }

  // Klaviyo received `Rekomi Payout Sent` for the affiliate exactly once.
  const sent = async () => {
    const account = await (await page.request.get(`${FAKE}/_fake/accounts/DEMO01`)).json();
    return (account.events as FakeEvent[]).filter(
      (e) => e.metric.data.attributes.name === "Rekomi Payout Sent" && e.profile.data.attributes.email === email,
    );
  };
  await expect.poll(async () => (await sent()).length, { timeout: 15_000 }).toBe(1);
  await page.waitForTimeout(1_500);
  const events = await sent();
  expect(events).toHaveLength(1);
  expect(events[0].properties).toMatchObject({ amount: 24, currency: "USD", reference: "PAYPAL-BATCH-42" });

  // Integrations says Klaviyo has the events a payout-receipt flow triggers on.
  await expect(async () => {
    await page.goto("/app/integrations");
    await expect(page.locator('tr[data-metric="Rekomi Payout Sent"] [data-testid=event-status]')).toContainText(
      "1 received, the last on",
      { timeout: 1_000 },
    );
  }).toPass({ timeout: 10_000 });
  expect(errors).toEqual([]);
});

test("webhook endpoints are added in the UI, events switched off, and failed deliveries logged", async ({ page }) => {
  const errors = collectPageErrors(page);
  await signUp(page, `Hook Shop ${uniqueId()}`, uniqueEmail("hooks"), PASSWORD);
  const campaign = await createCampaign(page, { name: `Hooks ${uniqueId()}`, pitch: "Earn.", terms: "Be nice.", autoApprove: true });

  await page.goto("/app/integrations");
  await expect(page.getByRole("heading", { name: "Integrations", level: 1 })).toBeVisible();
  // Nothing listens on port 9: every delivery fails and is logged for a retry.
  await untilHydrated(async () => {
    if (await page.getByTestId("webhook-secret").isVisible()) return;
    await page.getByLabel("Endpoint address").fill("http://127.0.0.1:9/hooks/rekomi", { timeout: 2_000 });
    await page.getByRole("checkbox", { name: /affiliate\.approved/ }).check({ timeout: 2_000 });
    await clickCalling(page, page.getByRole("button", { name: "Add endpoint" }), "/api/add_webhook");
    await expect(page.getByTestId("webhook-secret")).toBeVisible({ timeout: 5_000 });
  });
  expect(await page.getByTestId("webhook-secret").inputValue()).toMatch(/^whsec_/);
  await clickCalling(page, page.getByRole("checkbox", { name: "Send Rekomi Affiliate Applied" }), "/api/switch_event");
  await page.reload();
  await expect(page.getByRole("checkbox", { name: "Send Rekomi Affiliate Applied" })).not.toBeChecked();
  await expect(page.getByRole("checkbox", { name: "Send Rekomi Affiliate Invited" })).toBeDisabled();
  // Each event says whether a flow on it has anything to trigger on.
  const status = (metric: string) => page.locator(`tr[data-metric="${metric}"] [data-testid=event-status]`);
  await expect(status("Rekomi Affiliate Applied")).toHaveText("Switched off: not sent");
  await expect(status("Rekomi Affiliate Approved")).toHaveText("Not sent: Klaviyo isn't connected");
  await expect(page.locator('tr[data-metric="Rekomi Affiliate Verify Email"]')).toContainText("{{ event.verify_url }}");

  // Klaviyo isn't connected to carry a verification link: the merchant confirms the address.
  await applyConfirmed(page, campaign.landingPath, "Ana Lima", uniqueEmail("ana"));
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("deliveries")).toContainText("Could not connect to the endpoint.", { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await expect(page.getByTestId("deliveries")).toContainText("affiliate.approved");
  await expect(page.getByTestId("deliveries")).toContainText("retrying at");

  // The API reference opens from here, rendered by the server from the OpenAPI document.
  await page.getByRole("link", { name: /\/api\/v1\/docs$/ }).click();
  await expect(page.getByRole("heading", { name: "Rekomi API", level: 1 })).toBeVisible();
  await expect(page.getByRole("heading", { name: "POST /api/v1/affiliates/rate" })).toBeVisible();
  expect(errors).toEqual([]);
});
