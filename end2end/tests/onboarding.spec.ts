import { expect, test, type Page } from "@playwright/test";
import {
  PASSWORD,
  applyConfirmed,
  clickCalling,
  collectPageErrors,
  createCampaign,
  openWithoutJavaScript,
  queueItems,
  serverCaller,
  signUp,
  uniqueEmail,
  uniqueId,
  untilHydrated,
} from "./helpers";

/** The fake Klaviyo's control API (scripts/test.sh starts it in demo mode on port 3100). */
const FAKE = process.env.FAKE_KLAVIYO_URL ?? "http://127.0.0.1:3100";

interface FakeProfile {
  email: string;
  consent: string;
}
interface FakeEvent {
  properties: Record<string, unknown>;
  metric: { data: { attributes: { name: string } } };
  profile: { data: { attributes: { email: string } } };
}
interface FakeAccount {
  profiles: Record<string, FakeProfile>;
  events: FakeEvent[];
}

async function fakeAccount(page: Page): Promise<FakeAccount> {
  const response = await page.request.get(`${FAKE}/_fake/accounts/DEMO01`);
  expect(response.status()).toBe(200);
  return (await response.json()) as FakeAccount;
}

async function consentOf(page: Page, email: string): Promise<string | undefined> {
  const account = await fakeAccount(page);
  return Object.values(account.profiles).find((p) => p.email === email)?.consent;
}

/** A merchant connected to the demo Klaviyo account with the single opt-in list as default. */
async function connectedMerchant(page: Page, shop: string, autoApprove: boolean): Promise<void> {
  await signUp(page, `${shop} ${uniqueId()}`, uniqueEmail(shop), PASSWORD);
  const call = async (endpoint: string, data: unknown) => {
    const response = await page.request.post(`/api/${endpoint}`, { headers: { "content-type": "application/json" }, data });
    expect(response.status(), await response.text()).toBe(200);
  };
  await call("connect_klaviyo", { key: "pk_demo_rekomi_full_access_0001", confirm_account_id: null });
  await call("choose_default_list", { list_id: "AFFIL1" });
  await createCampaign(page, { name: `Trail ${uniqueId()}`, pitch: "Earn with us.", terms: "Be nice.", autoApprove });
}

async function uploadCsv(page: Page, csv: string): Promise<void> {
  await page.goto("/app/import");
  await expect(page.getByRole("heading", { name: "Import from Rewardful", level: 1 })).toBeVisible();
  const report = page.getByTestId("import-report");
  await untilHydrated(async () => {
    if (await report.isVisible()) return;
    await page.getByLabel("Rewardful CSV").setInputFiles(
      { name: "rewardful-affiliates.csv", mimeType: "text/csv", buffer: Buffer.from(csv) },
      { timeout: 2_000 },
    );
    await clickCalling(page, page.getByRole("button", { name: "Check file" }), "/api/imports/upload");
    await expect(report).toBeVisible({ timeout: 10_000 });
  });
}

test("a Rewardful CSV is checked row by row, imported in one go, synced to Klaviyo, and a re-import changes nothing", async ({
  page,
}) => {
  const errors = collectPageErrors(page);
  await connectedMerchant(page, "Import Shop", false);
  const ana = uniqueEmail("ana");
  const bo = uniqueEmail("bo");
  const token = `ana${uniqueId()}`;
  const csv =
    "Affiliate First Name,Affiliate Last Name,Affiliate Email,Token,PayPal Email,state,Coupon\n" +
    `Ana,Silva,${ana},${token},,active,X\n` +
    `Bo,Li,${bo},,bo.pay@example.com,active,\n` +
    "Cy,Ode,not-an-email,cy,,active,\n" +
    `Dee,,${uniqueEmail("dee")},dee,,sleeping,\n`;

  await uploadCsv(page, csv);
  const report = page.getByTestId("import-report");
  await expect(report).toHaveAttribute("data-state", "ready");
  await expect(page.getByTestId("count-create")).toHaveText("2 to create");
  await expect(page.getByTestId("count-errors")).toHaveText("2 with errors (skipped)");
  await expect(page.getByTestId("unknown-columns")).toContainText("Coupon");
  const issues = page.getByTestId("import-issues");
  await expect(issues.locator('tr[data-line="4"]')).toContainText("Affiliate Email");
  await expect(issues.locator('tr[data-line="5"]')).toContainText("\"sleeping\" is not a state");
  expect(await queueItems(page)).toHaveLength(0);

  await page.getByTestId("confirm-import").click();
  await expect(report).toHaveAttribute("data-state", "imported", { timeout: 15_000 });
  await expect(page.getByTestId("count-create")).toHaveText("2 created");
  const approved = await queueItems(page, "approved");
  expect(approved.map((a) => a.email).sort()).toEqual([ana, bo].sort());
  expect(approved.find((a) => a.email === ana)?.referral_code).toBe(token);
  await expect.poll(() => consentOf(page, ana), { timeout: 15_000 }).toBe("SUBSCRIBED");
  await expect.poll(() => consentOf(page, bo), { timeout: 15_000 }).toBe("SUBSCRIBED");

  await uploadCsv(page, csv);
  await expect(page.getByTestId("count-create")).toHaveText("0 to create");
  await expect(page.getByTestId("count-update")).toHaveText("0 to update");
  await expect(page.getByTestId("count-unchanged")).toHaveText("2 unchanged");
  await expect(page.getByTestId("confirm-import")).toHaveCount(0);
  expect(await queueItems(page)).toHaveLength(2);
  expect(errors).toEqual([]);
});

test("a bulk invite becomes one Klaviyo event each, and an accepted invite lands the affiliate subscribed", async ({
  page,
  browser,
  baseURL,
}) => {
  const errors = collectPageErrors(page);
  await connectedMerchant(page, "Invite Shop", true);
  const people = [uniqueEmail("ivy"), uniqueEmail("jo"), uniqueEmail("kai")];
  await page.goto("/app/invites");
  await expect(page.getByRole("heading", { name: "Invite affiliates", level: 1 })).toBeVisible();
  const preview = page.getByTestId("invite-preview");
  await untilHydrated(async () => {
    if (await preview.isVisible()) return;
    await page.getByLabel("People").fill(`${people[0]}, Ivy Stone\nJo Park <${people[1]}>\n${people[2]}\n`, { timeout: 2_000 });
    await clickCalling(page, page.getByRole("button", { name: "Check list" }), "/api/preview_invites");
    await expect(preview).toBeVisible({ timeout: 5_000 });
  });
  await expect(preview).toContainText("3 ready, 0 with a problem");
  await page.getByTestId("send-invites").click();
  await expect(page.getByTestId("invites-sent")).toHaveText("3 invites sent.");

  const invited = async () =>
    (await fakeAccount(page)).events.filter(
      (e) =>
        e.metric.data.attributes.name === "Rekomi Affiliate Invited" &&
        people.includes(e.profile.data.attributes.email),
    );
  await expect.poll(async () => (await invited()).length, { timeout: 15_000 }).toBe(3);
  const ivy = (await invited()).find((e) => e.profile.data.attributes.email === people[0]);
  const link = String(ivy?.properties.invite_url);
  expect(ivy?.properties.invitee_first_name).toBe("Ivy");
  expect(link).toContain("?invite=");
  await expect(page.getByTestId("invite-list").locator(`tr[data-email="${people[0]}"]`)).toHaveAttribute(
    "data-status",
    "sent",
  );

  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    const url = new URL(link);
    await visitor.page.goto(url.pathname + url.search);
    await expect(visitor.page.getByRole("heading", { name: "Accept your invitation" })).toBeVisible();
    await expect(visitor.page.getByLabel("Email", { exact: true })).toHaveValue(people[0]);
    await expect(visitor.page.getByLabel("Full name")).toHaveValue("Ivy Stone");
    await visitor.page.getByLabel("I accept the program terms").check();
    await visitor.page.getByRole("button", { name: "Accept and join" }).click();
    await expect(visitor.page.getByRole("heading", { name: "Welcome aboard, Ivy!" })).toBeVisible();
  } finally {
    await visitor.context.close();
  }
  const approved = await queueItems(page, "approved");
  expect(approved.map((a) => a.email)).toContain(people[0]);
  await expect.poll(() => consentOf(page, people[0]), { timeout: 15_000 }).toBe("SUBSCRIBED");
  await page.reload();
  await expect(page.getByTestId("invite-list").locator(`tr[data-email="${people[0]}"]`)).toHaveAttribute(
    "data-status",
    "accepted",
  );
  expect(errors).toEqual([]);
});

test("a new merchant's home checklist ticks itself through the whole setup, then shows the period's figures", async ({
  page,
}) => {
  test.setTimeout(90_000);
  const errors = collectPageErrors(page);
  await signUp(page, `Home Shop ${uniqueId()}`, uniqueEmail("home"), PASSWORD);
  const checklist = page.getByTestId("checklist");
  const step = (key: string) => checklist.locator(`li[data-step="${key}"]`);
  const steps = ["klaviyo", "list", "campaign", "shop", "share", "approval", "synced", "commission"];
  for (const key of steps) await expect(step(key)).toHaveAttribute("data-done", "false");
  await expect(page.getByTestId("waiting")).toHaveText("No application is waiting for review.");
  await expect(page.getByTestId("sync-summary")).toContainText("Klaviyo isn't connected");
  await page.screenshot({ path: "test-results/screens/home-new-merchant.png", fullPage: true });
  /** Home after a reload shows these steps (and those before them) ticked. */
  const ticked = async (upTo: string) => {
    await page.goto("/app");
    for (const key of steps.slice(0, steps.indexOf(upTo) + 1)) await expect(step(key)).toHaveAttribute("data-done", "true");
    for (const key of steps.slice(steps.indexOf(upTo) + 1)) await expect(step(key)).toHaveAttribute("data-done", "false");
  };

  // The first step leads to the Klaviyo page; connecting and choosing a list tick two steps.
  await step("klaviyo").getByRole("link", { name: "Connect Klaviyo" }).click();
  await expect(page.getByRole("heading", { name: "Klaviyo", level: 1 })).toBeVisible();
  const call = serverCaller(page);
  await call("connect_klaviyo", { key: "pk_demo_rekomi_full_access_0001", confirm_account_id: null });
  await page.goto("/app");
  await expect(step("klaviyo")).toHaveAttribute("data-done", "true");
  await expect(step("klaviyo")).toContainText("Connected to");
  await call("choose_default_list", { list_id: "AFFIL1" });
  await ticked("list");

  const campaign = await createCampaign(page, { name: `Home ${uniqueId()}`, pitch: "Earn with us.", terms: "Be nice." });
  await ticked("campaign");
  // The landing page's full address, ready to copy.
  await expect(page.getByTestId("landing-url")).toHaveValue(new RegExp(`^https?://[^/]+${campaign.landingPath}$`));

  await call("set_shopify_secret", { secret: "shpss_home_checklist_secret" });
  await ticked("shop");

  const email = uniqueEmail("ana");
  await applyConfirmed(page, campaign.landingPath, "Ana Lima", email, FAKE);
  await ticked("share");
  await expect(page.getByTestId("waiting")).toHaveText("1 application waits for review");
  await page.screenshot({ path: "test-results/screens/home-half-way.png", fullPage: true });

  const applicant = (await queueItems(page, "pending")).find((item) => item.email === email)!;
  await call("decide_applications", { ids: [applicant.id], decision: "approve" });
  await ticked("approval");
  // Ticked once Klaviyo's list was read back with Ana in it.
  await expect(async () => {
    await page.goto("/app");
    await expect(step("synced")).toHaveAttribute("data-done", "true", { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await expect(page.getByTestId("sync-summary")).toHaveText("Klaviyo sync: 1 in Klaviyo.");

  // An order through Ana's code earns the first commission: the program is live.
  const { token } = await call("create_api_token", { name: "Home test" });
  const code = (await queueItems(page, "approved")).find((item) => item.email === email)!.referral_code;
  const order = await page.request.post("/api/v1/conversions", {
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    data: { order_id: `H-${uniqueId()}`, amount_minor: 12_000, currency: "USD", referral_code: code },
  });
  expect(order.status(), await order.text()).toBe(201);
  await page.goto("/app");
  await expect(page.getByTestId("live")).toBeVisible();
  await expect(checklist).toHaveCount(0);
  await expect(page.getByRole("heading", { name: "Last 30 days", level: 2 })).toBeVisible();
  await expect(page.getByTestId("orders").locator("dd")).toHaveText("1");
  await expect(page.getByTestId("revenue").locator("dd")).toHaveText("120.00 USD");
  await expect(page.getByTestId("earned").locator("dd")).toHaveText("12.00 USD");
  await expect(page.getByTestId("paid").locator("dd")).toHaveText("0");

  // Another period: chosen in the page, kept in the address, the same after a reload.
  await untilHydrated(async () => {
    if (new URL(page.url()).searchParams.get("days") === "7") return;
    await page.getByLabel("Period").selectOption("7", { timeout: 2_000 });
    await expect(page).toHaveURL(/\?days=7$/, { timeout: 2_000 });
  });
  await expect(page.getByRole("heading", { name: "Last 7 days", level: 2 })).toBeVisible();
  await page.reload();
  await expect(page.getByRole("heading", { name: "Last 7 days", level: 2 })).toBeVisible();
  await expect(page.getByLabel("Period")).toHaveValue("7");
  await expect(page.getByTestId("orders").locator("dd")).toHaveText("1");
  await page.screenshot({ path: "test-results/screens/home-live.png", fullPage: true });
  expect(errors).toEqual([]);
});
