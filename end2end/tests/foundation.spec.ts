import { expect, test } from "@playwright/test";
import {
  HYDRATION_TIMEOUT,
  PASSWORD,
  clickCalling,
  collectPageErrors,
  createCampaign,
  fillCampaignForm,
  openNewCampaignForm,
  openWithJavaScript,
  openWithoutJavaScript,
  queueItems,
  queueRow,
  signUp,
  skipBrowserValidation,
  submitApplication,
  confirmEmail,
  serverCaller,
  verifyLink,
  uniqueEmail,
  uniqueId,
  untilHydrated,
} from "./helpers";

const FAKE = process.env.FAKE_KLAVIYO_URL ?? "http://127.0.0.1:3100";

const JSON_HEADERS = { "content-type": "application/json" };

const PITCH_INTRO = "Earn a commission on every order your readers place with us.";
const PITCH_MORE = "We roast small batches of organic coffee and ship across Europe.";
const TERMS = "Disclose the partnership in every post. No paid search ads on our brand name.";

const MSG_NAME = "Enter your full name.";
const MSG_EMAIL = "An email address has one @ between a name and a domain, like ana@example.com.";
const MSG_TERMS = "Please read and accept the program terms to apply.";

test("merchant signs up, creates a campaign, an affiliate applies without JavaScript, merchant approves in the queue", async ({
  page,
  browser,
  baseURL,
}) => {
  const errors = collectPageErrors(page);
  const shop = `Ana Shop ${uniqueId()}`;
  await signUp(page, shop, uniqueEmail("merchant"), PASSWORD);

  const topbar = page.locator(".sidebar");
  await expect(topbar.getByRole("link", { name: "Campaigns", exact: true })).toBeVisible();
  await expect(topbar.getByRole("link", { name: "Approval queue", exact: true })).toBeVisible();
  await expect(topbar.getByRole("button", { name: "Log out" })).toBeVisible();
  // A new merchant lands on Home, whose checklist leads to the first campaign.
  await expect(page.getByTestId("checklist").getByRole("link", { name: "Create a campaign" })).toBeVisible();

  const campaign = await createCampaign(page, {
    name: "Spring Partners",
    pitch: `${PITCH_INTRO}\n\n${PITCH_MORE}`,
    terms: TERMS,
  });
  expect(campaign.landingPath).toMatch(/^\/join\/[a-z0-9-]+\/spring-partners$/);
  await expect(page.getByText("Public page:")).toBeVisible();
  await expect(page.getByRole("link", { name: "Open public page" })).toHaveAttribute("href", campaign.landingPath);
  await expect(page.getByRole("button", { name: "Save changes" })).toBeVisible();

  // The affiliate's side: plain HTML, no scripts at all.
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    const v = visitor.page;
    const landing = await v.goto(campaign.landingPath);
    expect(landing?.status()).toBe(200);
    await expect(v.locator("script")).toHaveCount(0);
    await expect(v.locator("p.eyebrow")).toHaveText(`${shop} affiliate program`);
    await expect(v.getByRole("heading", { level: 1 })).toHaveText("Spring Partners");
    await expect(v.getByText(PITCH_INTRO)).toBeVisible();
    await expect(v.getByText(PITCH_MORE)).toBeVisible();
    await expect(v.locator("ul.facts li").filter({ hasText: "Commission:" })).toHaveText("Commission: 10% of each order");
    await expect(v.locator("details summary")).toHaveText("Program terms (version 1)");
    await expect(v.getByText(TERMS)).toBeVisible();
    await expect(v.getByRole("heading", { name: "Apply to join" })).toBeVisible();

    const applicantEmail = uniqueEmail("ana");
    const response = await submitApplication(v, {
      name: "Ana van der Berg",
      email: applicantEmail,
      website: "@ana.roasts",
      message: "I review coffee on my blog.",
    });
    expect(response.status()).toBe(200);
    await expect(v.getByRole("heading", { name: "Thanks, Ana!" })).toBeVisible();
    // No Klaviyo connected to carry a confirmation link: the page promises no email.
    await expect(v.getByText(`Your application is in. ${shop} confirms your email address and reviews each application.`)).toBeVisible();

    // Back to the merchant: the application waits in the queue.
    await topbar.getByRole("link", { name: "Approval queue", exact: true }).click();
    await expect(page).toHaveURL(/\/app\/queue$/);
    await expect(page.getByRole("heading", { name: "Approval queue", level: 1 })).toBeVisible();
    await expect(page.getByRole("tab", { name: "Pending (1)" })).toHaveAttribute("aria-selected", "true");
    await expect(page.getByRole("searchbox", { name: "Search email or name" })).toBeVisible();
    await expect(page.getByRole("combobox")).toContainText("Spring Partners");

    const row = queueRow(page, applicantEmail);
    await expect(row).toContainText("Ana van der Berg");
    await expect(row).toContainText("Spring Partners");
    await expect(row.locator(".badge.pending")).toHaveText("Pending");
    await expect(row.getByRole("checkbox", { name: `Select ${applicantEmail}` })).toBeVisible();
    await expect(row.getByRole("button", { name: "Reject" })).toBeVisible();

    // Her address isn't confirmed: she can't be approved until it is; the merchant knows it's hers.
    const unconfirmed = row.locator(".badge.unverified");
    await expect(unconfirmed).toHaveText("Email not confirmed");
    await expect(row.getByRole("button", { name: "Approve", exact: true })).toHaveCount(0);
    await untilHydrated(async () => {
      if ((await unconfirmed.count()) > 0) {
        await row.getByRole("button", { name: "Confirm email" }).click({ timeout: 2_000 });
      }
      await expect(unconfirmed).toHaveCount(0, { timeout: 3_000 });
    });
    await expect(page.getByRole("status").filter({ hasText: "confirmed." })).toHaveText("1 confirmed.");

    const updated = page.getByRole("status").filter({ hasText: "updated." });
    await untilHydrated(async () => {
      if (!(await updated.isVisible())) {
        await row.getByRole("button", { name: "Approve", exact: true }).click({ timeout: 2_000 });
      }
      await expect(row).toHaveCount(0, { timeout: 3_000 });
    });
    await expect(updated).toHaveText("1 updated.");
    await expect(page.getByRole("tab", { name: "Pending (0)" })).toBeVisible();

    await page.getByRole("tab", { name: "Approved (1)" }).click();
    await expect(page.getByRole("tab", { name: "Approved (1)" })).toHaveAttribute("aria-selected", "true");
    await expect(row.locator(".badge")).toHaveText("Approved");
    await expect(row.locator("code.code")).toHaveText(/^ana-[a-z0-9]{5}$/);
    await expect(row.getByRole("button", { name: "Reject" })).toHaveCount(0);
  } finally {
    await visitor.context.close();
  }

  expect(errors, "errors in the merchant app (hydration, panics)").toEqual([]);
});

test("application form keeps typed values and shows each error without JavaScript", async ({
  page,
  browser,
  baseURL,
}) => {
  await signUp(page, `Form Shop ${uniqueId()}`, uniqueEmail("merchant"), PASSWORD);
  const { landingPath } = await createCampaign(page, { name: "Form Partners", pitch: PITCH_INTRO, terms: TERMS });

  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    const v = visitor.page;
    await v.goto(landingPath);
    const banner = v.locator(".banner.error");
    const name = v.getByLabel("Full name");
    const email = v.getByLabel("Email", { exact: true });
    const terms = v.getByLabel("I accept the program terms");

    // Nothing filled in: every required field is reported.
    await skipBrowserValidation(v);
    let response = await submitApplication(v, { name: "", email: "", acceptTerms: false });
    expect(response.status()).toBe(422);
    await expect(banner).toContainText("Please correct the following:");
    await expect(banner).toContainText(MSG_NAME);
    await expect(banner).toContainText(MSG_TERMS);
    await expect(v.locator("#name-error")).toHaveText(MSG_NAME);
    await expect(v.locator("#email-error")).toBeVisible();
    await expect(v.locator("#accept_terms-error")).toHaveText(MSG_TERMS);
    await expect(name).toHaveAttribute("aria-invalid", "true");

    // A bad email and the terms not accepted: both reported, everything typed is kept.
    await skipBrowserValidation(v);
    response = await submitApplication(v, {
      name: "Ana van der Berg",
      email: "ana@",
      website: "https://ana.example",
      message: "Coffee reviews every week.",
      acceptTerms: false,
    });
    expect(response.status()).toBe(422);
    await expect(banner).toContainText("Please correct the following:");
    await expect(banner).toContainText(MSG_EMAIL);
    await expect(banner).toContainText(MSG_TERMS);
    await expect(banner).not.toContainText(MSG_NAME);
    await expect(v.locator("#email-error")).toHaveText(MSG_EMAIL);
    await expect(v.locator("#accept_terms-error")).toHaveText(MSG_TERMS);
    await expect(v.locator("#name-error")).toHaveCount(0);
    await expect(name).toHaveValue("Ana van der Berg");
    await expect(name).not.toHaveAttribute("aria-invalid", "true");
    await expect(email).toHaveValue("ana@");
    await expect(email).toHaveAttribute("aria-invalid", "true");
    await expect(email).toHaveAttribute("aria-describedby", "email-error");
    await expect(v.getByLabel("Website or social handle (optional)")).toHaveValue("https://ana.example");
    await expect(v.getByLabel("Message (optional)")).toHaveValue("Coffee reviews every week.");
    await expect(terms).not.toBeChecked();
    await expect(v.locator("#rk_trap")).toHaveValue("");

    // Fixed: the application goes through.
    const applicantEmail = uniqueEmail("ana");
    response = await submitApplication(v, { name: "Ana van der Berg", email: applicantEmail, acceptTerms: true });
    expect(response.status()).toBe(200);
    await expect(v.getByRole("heading", { name: "Thanks, Ana!" })).toBeVisible();
    await expect(v.getByText("Your application is in.")).toBeVisible();

    // The same person again (emails compare case-insensitively): nothing new, and the answer is
    // the same as the first time, so the form can't tell anyone who applied.
    await v.goto(landingPath);
    response = await submitApplication(v, { name: "Ana van der Berg", email: applicantEmail.toUpperCase() });
    expect(response.status()).toBe(200);
    await expect(v.getByRole("heading", { name: "Thanks, Ana!" })).toBeVisible();
  } finally {
    await visitor.context.close();
  }
});

test("auto-approve campaign approves once the applicant confirms their email", async ({ page, browser, baseURL }) => {
  await signUp(page, `Instant Shop ${uniqueId()}`, uniqueEmail("merchant"), PASSWORD);
  // Klaviyo carries the confirmation link (set up through the same server functions as its page).
  const call = serverCaller(page);
  await call("connect_klaviyo", { key: "pk_demo_rekomi_full_access_0001", confirm_account_id: null });
  await call("choose_default_list", { list_id: "AFFIL1" });
  const { landingPath } = await createCampaign(page, {
    name: "Instant Partners",
    pitch: PITCH_INTRO,
    terms: TERMS,
    autoApprove: true,
  });

  const applicantEmail = uniqueEmail("bo");
  const visitor = await openWithoutJavaScript(browser, baseURL);
  let code: string;
  try {
    const v = visitor.page;
    await v.goto(landingPath);
    const response = await submitApplication(v, { name: "Bo Lindqvist", email: applicantEmail });
    expect(response.status()).toBe(200);
    await expect(v.getByRole("heading", { name: "Almost there, Bo: confirm your email" })).toBeVisible();
    expect((await queueItems(page, "pending")).map((item) => item.email)).toContain(applicantEmail);
    await confirmEmail(v, await verifyLink(page, FAKE, applicantEmail));
    await expect(v.locator("script")).toHaveCount(0);
    await expect(v.getByRole("heading", { name: "Welcome aboard, Bo!" })).toBeVisible();
    await expect(v.getByText("You're approved. Your referral code is")).toBeVisible();
    const codeElement = v.locator(".outcome code");
    await expect(codeElement).toHaveText(/^bo-[a-z0-9]{5}$/);
    code = (await codeElement.innerText()).trim();
  } finally {
    await visitor.context.close();
  }

  // The merchant sees the affiliate approved, with the same code, and nothing pending.
  const approved = await queueItems(page, "approved");
  const affiliate = approved.find((item) => item.email === applicantEmail);
  expect(affiliate, "the auto-approved affiliate in the merchant's queue").toBeDefined();
  expect(affiliate?.referral_code).toBe(code);
  expect(affiliate?.decided_by).toBe("auto-approve");
  expect((await queueItems(page, "pending")).map((item) => item.email)).not.toContain(applicantEmail);
});

test("campaign form shows field errors", async ({ page }) => {
  await signUp(page, `Errors Shop ${uniqueId()}`, uniqueEmail("merchant"), PASSWORD);
  await openNewCampaignForm(page);

  const nameError = page.locator("#name-error");
  const rateError = page.locator("#commission_rate-error");
  await untilHydrated(async () => {
    await page.getByLabel("Campaign name").fill("", { timeout: 2_000 });
    await page.getByLabel("Rate (%)").fill("150", { timeout: 2_000 });
    await page.getByRole("button", { name: "Create campaign" }).click({ timeout: 2_000 });
    // Checked in the browser, no round trip: the messages appear at once when hydrated.
    await expect(nameError).toBeVisible({ timeout: 1_500 });
    await expect(rateError).toBeVisible({ timeout: 1_500 });
  });
  await expect(nameError).toHaveText("This field is required.");
  await expect(rateError).toHaveText(
    "A percentage is more than 0 and at most 100, with at most two decimal places.",
  );
  await expect(page.locator("#pitch-error")).toHaveText("This field is required.");
  await expect(page.locator("#terms-error")).toHaveText("This field is required.");
  await expect(page.locator(".banner.error")).toHaveText("Please correct the 4 highlighted fields.");
  // The fields are marked, described by their message, and the first one has the focus.
  await expect(page.getByLabel("Campaign name")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Campaign name")).toHaveAttribute("aria-describedby", "name-error");
  await expect(page.getByLabel("Rate (%)")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Campaign name")).toBeFocused();
  await expect(page).toHaveURL(/\/app\/campaigns\/new$/);
  await expect(page.getByRole("heading", { name: "New campaign", level: 1 })).toBeVisible();
  // Defaults the merchant did not touch are still there.
  await expect(page.getByLabel("Cookie window (days)")).toHaveValue("30");
  await expect(page.getByLabel("Currency")).toHaveValue("USD");
  await expect(page.getByLabel("Accepting applications")).toBeChecked();
  await expect(page.getByLabel("Approve applications automatically")).not.toBeChecked();

  // Corrected, it is created; an edit is saved in place.
  await fillCampaignForm(page, { name: "Summer Partners", pitch: PITCH_INTRO, terms: TERMS, rate: "12.5" });
  await page.getByRole("button", { name: "Create campaign" }).click();
  await expect(page).toHaveURL(/\/app\/campaigns\/\d+$/);
  await expect(page.getByRole("heading", { name: "Summer Partners", level: 1 })).toBeVisible();
  const id = Number(new URL(page.url()).pathname.split("/").pop());

  await page.getByLabel("Pitch", { exact: true }).fill(PITCH_MORE);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Campaign “Summer Partners” saved." })).toBeVisible();

  const stored = await page.request.post("/api/get_campaign", { headers: JSON_HEADERS, data: { id } });
  expect(stored.status()).toBe(200);
  const view = (await stored.json()) as { name: string; pitch: string };
  expect(view.name).toBe("Summer Partners");
  expect(view.pitch).toBe(PITCH_MORE);
});

test("unknown and closed campaigns are 404 pages", async ({ page, browser, baseURL }) => {
  const shop = `Closed Shop ${uniqueId()}`;
  await signUp(page, shop, uniqueEmail("merchant"), PASSWORD);
  const closed = await createCampaign(page, {
    name: "Closed Partners",
    pitch: PITCH_INTRO,
    terms: TERMS,
    accepting: false,
  });
  const merchantSlug = closed.landingPath.split("/")[2];

  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    const v = visitor.page;

    let response = await v.goto(`/join/no-such-shop-${uniqueId()}/no-such-program`);
    expect(response?.status()).toBe(404);
    await expect(v.getByRole("heading", { level: 1 })).toHaveText("Program not found");

    response = await v.goto(`/join/${merchantSlug}/no-such-program`);
    expect(response?.status()).toBe(404);
    await expect(v.getByRole("heading", { level: 1 })).toHaveText("Program not found");

    response = await v.goto(closed.landingPath);
    expect(response?.status()).toBe(404);
    await expect(v.getByRole("heading", { level: 1 })).toHaveText("Applications are closed");
    await expect(v.getByText(`${shop} isn't taking applications`)).toBeVisible();
    await expect(v.getByRole("button", { name: "Apply" })).toHaveCount(0);

    // Posting to the closed program directly is refused the same way.
    const post = await visitor.context.request.post(closed.landingPath, {
      form: { name: "Ana van der Berg", email: uniqueEmail("ana"), accept_terms: "on" },
    });
    expect(post.status()).toBe(404);
  } finally {
    await visitor.context.close();
  }
});

test("one merchant cannot see or change another's data", async ({ page, browser, baseURL }) => {
  // Merchant A with a campaign and one pending application.
  await signUp(page, `Alpha Shop ${uniqueId()}`, uniqueEmail("alpha"), PASSWORD);
  const secretName = `Alpha Secret ${uniqueId()}`;
  const campaignA = await createCampaign(page, { name: secretName, pitch: PITCH_INTRO, terms: TERMS });

  const applicantEmail = uniqueEmail("cleo");
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    await visitor.page.goto(campaignA.landingPath);
    const response = await submitApplication(visitor.page, { name: "Cleo Marsh", email: applicantEmail });
    expect(response.status()).toBe(200);
  } finally {
    await visitor.context.close();
  }
  const affiliate = (await queueItems(page, "pending")).find((item) => item.email === applicantEmail);
  expect(affiliate, "A's pending application").toBeDefined();
  const affiliateId = affiliate!.id;

  // Merchant B, in a browser of their own.
  const merchantB = await openWithJavaScript(browser, baseURL);
  try {
    const b = merchantB.page;
    await signUp(b, `Beta Shop ${uniqueId()}`, uniqueEmail("beta"), PASSWORD);
    await expect(b.getByTestId("checklist").locator('li[data-step="campaign"]')).toHaveAttribute("data-done", "false");
    await expect(b.locator("body")).not.toContainText(secretName);
    await b.goto("/app/campaigns");
    await expect(b.getByRole("link", { name: "Create your first campaign" })).toBeVisible();
    await expect(b.locator("body")).not.toContainText(secretName);

    await b.goto(`/app/campaigns/${campaignA.id}`);
    await expect(b.getByRole("heading", { name: "Campaign not found", level: 1 })).toBeVisible();
    await expect(b.getByText("That campaign doesn't exist or isn't yours.")).toBeVisible();
    await expect(b.locator("body")).not.toContainText(secretName);

    const get = await b.request.post("/api/get_campaign", { headers: JSON_HEADERS, data: { id: campaignA.id } });
    expect(get.status()).toBe(404);
    expect(await get.text()).not.toContain(secretName);

    const update = await b.request.post("/api/update_campaign", {
      headers: JSON_HEADERS,
      data: {
        id: campaignA.id,
        form: {
          name: "Hijacked",
          slug: "hijacked",
          pitch: "Taken over.",
          terms: "None.",
          commission_kind: "percent",
          commission_rate: "99",
          commission_amount: "",
          currency: "USD",
          cookie_days: "30",
          destination_url: "",
          auto_approve: true,
          accepting: true,
        },
      },
    });
    expect(update.status()).toBe(404);

    const decide = await b.request.post("/api/decide_applications", {
      headers: JSON_HEADERS,
      data: { ids: [affiliateId], decision: "approve" },
    });
    expect(decide.status()).toBe(200);
    const outcome = (await decide.json()) as { changed: unknown[]; skipped: [number, string][] };
    expect(outcome.changed).toEqual([]);
    expect(outcome.skipped).toHaveLength(1);
    expect(outcome.skipped[0]).toEqual([affiliateId, "not found"]);

    const confirm = await b.request.post("/api/verify_emails", { headers: JSON_HEADERS, data: { ids: [affiliateId] } });
    expect(confirm.status()).toBe(200);
    expect(((await confirm.json()) as { skipped: [number, string][] }).skipped).toEqual([[affiliateId, "not found"]]);

    const seenByB = await queueItems(b);
    expect(seenByB.map((item) => item.email)).not.toContain(applicantEmail);
  } finally {
    await merchantB.context.close();
  }

  // A's data is untouched: same campaign, application still pending.
  const own = await page.request.post("/api/get_campaign", { headers: JSON_HEADERS, data: { id: campaignA.id } });
  expect(own.status()).toBe(200);
  const view = (await own.json()) as { name: string; auto_approve: boolean };
  expect(view.name).toBe(secretName);
  expect(view.auto_approve).toBe(false);

  await page.goto("/app/queue");
  const row = queueRow(page, applicantEmail);
  await expect(row.locator(".badge.pending")).toHaveText("Pending");
  await expect(row.locator(".badge.unverified")).toHaveText("Email not confirmed");
  await expect(row).toContainText(secretName);
});

test("logged-out visitors are sent to log in", async ({ page }) => {
  for (const path of ["/app", "/app/queue", "/app/campaigns/new"]) {
    await page.goto(path);
    await expect(page).toHaveURL(/\/login$/, { timeout: HYDRATION_TIMEOUT });
    await expect(page.getByRole("heading", { name: "Log in", level: 1 })).toBeVisible();
  }
  // The server functions behind those pages refuse anonymous callers too.
  const list = await page.request.post("/api/list_campaigns", { headers: JSON_HEADERS, data: {} });
  expect(list.status()).toBe(401);
});

test("login with wrong password shows a clear error", async ({ page }) => {
  const shop = `Login Shop ${uniqueId()}`;
  const email = uniqueEmail("merchant");
  await signUp(page, shop, email, PASSWORD);

  await page.locator(".sidebar").getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  // The session is really gone: the dashboard sends us back to log in.
  await page.goto("/app");
  await expect(page).toHaveURL(/\/login$/, { timeout: HYDRATION_TIMEOUT });

  const wrong = page.getByRole("alert").filter({ hasText: "Email or password is incorrect." });
  await untilHydrated(async () => {
    if (await wrong.isVisible()) return;
    await page.getByLabel("Email", { exact: true }).fill(email, { timeout: 2_000 });
    await page.getByLabel("Password", { exact: true }).fill("not the right password", { timeout: 2_000 });
    await clickCalling(page, page.getByRole("button", { name: "Log in" }), "/api/log_in");
    await expect(wrong).toBeVisible({ timeout: 10_000 });
  });
  await expect(page).toHaveURL(/\/login$/);

  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/app$/);
  await expect(page.locator(".sidebar .shop")).toHaveText(shop);
});
