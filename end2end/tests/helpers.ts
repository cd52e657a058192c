import { expect, type Browser, type BrowserContext, type Locator, type Page, type Response } from "@playwright/test";
import * as zlib from "node:zlib";

/** How long the merchant SPA may take to hydrate after a full page load (debug builds are slow). */
export const HYDRATION_TIMEOUT = 20_000;

/** A password that passes the sign-up rule (at least 10 characters). */
export const PASSWORD = "correct horse battery";

/** A short id, unique per call, for names and emails that must not clash across runs. */
export function uniqueId(): string {
  const random = Math.random().toString(36).slice(2, 7);
  return `${Date.now().toString(36)}${random}`;
}

/** A fresh, lower-case email address (the app stores emails lower-cased). */
export function uniqueEmail(prefix: string): string {
  const stem = prefix.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "user";
  return `${stem}-${uniqueId()}@example.com`;
}

/**
 * Records uncaught page errors and `console.error` messages (favicon noise excluded). Call it right
 * after the page is created and assert the returned array is empty at the end of the test: a
 * hydration mismatch or a panic in the wasm shows up here.
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  const aboutFavicon = (text: string | undefined) => /favicon/i.test(text ?? "");
  page.on("pageerror", (error) => {
    if (!aboutFavicon(error.message) && !aboutFavicon(error.stack)) {
      errors.push(`pageerror: ${error.message}`);
    }
  });
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const where = message.location().url;
    if (aboutFavicon(message.text()) || aboutFavicon(where)) return;
    errors.push(`console.error: ${message.text()}${where ? ` (at ${where})` : ""}`);
  });
  return errors;
}

/**
 * Runs the first interaction with a freshly loaded SPA page until it has the expected effect.
 * Clicks that land before hydration do nothing and values typed before it may be reset, so the
 * body must (re)fill its inputs, act, and assert the result with a timeout of its own that is short
 * when nothing happened (see `clickCalling`). The body should first check whether an earlier
 * attempt already succeeded. Passing at all is the proof that the page hydrates.
 */
export async function untilHydrated(body: () => Promise<void>): Promise<void> {
  await expect(body).toPass({ timeout: HYDRATION_TIMEOUT, intervals: [250, 500, 1_000] });
}

/**
 * Clicks a button that should make the SPA call the server function at `endpoint`, and throws at
 * once when no such call starts: before hydration a click does nothing, and the caller's retry
 * should come quickly rather than after a long wait for a result that cannot come.
 */
export async function clickCalling(page: Page, button: Locator, endpoint: string): Promise<void> {
  const sent = page
    .waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === endpoint, { timeout: 1_500 })
    .then(
      () => true,
      () => false,
    );
  await button.click({ timeout: 2_000 });
  if (!(await sent)) throw new Error(`the click did not call ${endpoint} (page not hydrated yet?)`);
}

function pathOf(page: Page): string {
  return new URL(page.url()).pathname;
}

/** A context with scripts off, for the server-rendered public pages. */
export async function openWithoutJavaScript(
  browser: Browser,
  baseURL: string | undefined,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await context.newPage();
  return { context, page };
}

/** A second signed-out browser with scripts on, e.g. for another merchant. */
export async function openWithJavaScript(
  browser: Browser,
  baseURL: string | undefined,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ javaScriptEnabled: true, baseURL });
  const page = await context.newPage();
  return { context, page };
}

/** Creates a merchant account from /signup and waits for the dashboard. */
export async function signUp(page: Page, shopName: string, email: string, password: string): Promise<void> {
  await page.goto("/signup");
  await expect(page.getByRole("heading", { name: "Create your merchant account" })).toBeVisible();
  let rateLimited: string | null = null;
  await untilHydrated(async () => {
    if (pathOf(page) === "/app") return;
    const tooMany = page.getByText(/Too many attempts/);
    if (await tooMany.isVisible()) {
      rateLimited = await tooMany.innerText();
      return;
    }
    await page.getByLabel("Shop name").fill(shopName, { timeout: 2_000 });
    await page.getByLabel("Email", { exact: true }).fill(email, { timeout: 2_000 });
    await page.getByLabel("Password", { exact: true }).fill(password, { timeout: 2_000 });
    await clickCalling(page, page.getByRole("button", { name: "Create account" }), "/api/sign_up");
    await expect(page).toHaveURL(/\/app$/, { timeout: 10_000 });
  });
  if (rateLimited) {
    throw new Error(
      `Sign-up was rate limited ("${rateLimited}"). Run the server with REKOMI_AUTH_RATE_PER_MINUTE=0 ` +
        "for repeated end-to-end runs, or wait a minute.",
    );
  }
  await expect(page.getByRole("heading", { name: "Home", level: 1 })).toBeVisible();
  await expect(page.locator(".sidebar .shop")).toHaveText(shopName);
}

export interface CampaignOptions {
  name: string;
  pitch: string;
  terms: string;
  /** "Web address name"; derived from the name when omitted. */
  slug?: string;
  /** Percentage; the form's default (10) when omitted. */
  rate?: string;
  autoApprove?: boolean;
  accepting?: boolean;
  /** The shop address tracking links lead to. */
  destination?: string;
  attribution?: "first" | "last";
  /** Days a commission waits before it can be paid. */
  holdDays?: string;
}

export interface CreatedCampaign {
  id: number;
  /** `/join/{merchant-slug}/{campaign-slug}`, as the editor shows it. */
  landingPath: string;
}

/** Opens the new-campaign form (from the dashboard's link when it is right there). */
export async function openNewCampaignForm(page: Page): Promise<void> {
  const link = page.getByRole("link", { name: /^(New campaign|Create your first campaign)$/ }).first();
  if (pathOf(page) === "/app" && (await link.isVisible())) {
    await link.click();
  } else {
    await page.goto("/app/campaigns/new");
  }
  await expect(page.getByRole("heading", { name: "New campaign", level: 1 })).toBeVisible();
}

/** Fills the campaign form; the caller submits. */
export async function fillCampaignForm(page: Page, opts: CampaignOptions): Promise<void> {
  const quick = { timeout: 2_000 };
  await page.getByLabel("Campaign name").fill(opts.name, quick);
  if (opts.slug !== undefined) await page.getByLabel("Web address name").fill(opts.slug, quick);
  await page.getByLabel("Pitch", { exact: true }).fill(opts.pitch, quick);
  await page.getByLabel("Program terms", { exact: true }).fill(opts.terms, quick);
  if (opts.rate !== undefined) await page.getByLabel("Rate (%)").fill(opts.rate, quick);
  if (opts.destination !== undefined) await page.getByLabel(/^Shop address/).fill(opts.destination, quick);
  if (opts.attribution !== undefined) await page.getByLabel(/several affiliates' links/).selectOption(opts.attribution, quick);
  if (opts.holdDays !== undefined) await page.getByLabel(/^Hold commissions for/).fill(opts.holdDays, quick);
  await page.getByLabel("Accepting applications").setChecked(opts.accepting ?? true, quick);
  await page.getByLabel("Approve applications automatically").setChecked(opts.autoApprove ?? false, quick);
}

/** Creates a campaign through the form and returns its id and public landing path. */
export async function createCampaign(page: Page, opts: CampaignOptions): Promise<CreatedCampaign> {
  await openNewCampaignForm(page);
  const editor = /\/app\/campaigns\/\d+$/;
  await untilHydrated(async () => {
    if (editor.test(pathOf(page))) return;
    await fillCampaignForm(page, opts);
    await clickCalling(page, page.getByRole("button", { name: "Create campaign" }), "/api/create_campaign");
    await expect(page).toHaveURL(editor, { timeout: 10_000 });
  });
  await expect(page.getByRole("heading", { name: opts.name, level: 1 })).toBeVisible();
  const landing = page.locator("code.landing-path");
  await expect(landing).toHaveText(/^\/join\/[a-z0-9-]+\/[a-z0-9-]+$/);
  const landingPath = (await landing.innerText()).trim();
  const id = Number(pathOf(page).split("/").pop());
  expect(Number.isInteger(id) && id > 0, `campaign id from ${page.url()}`).toBe(true);
  return { id, landingPath };
}

export interface Applicant {
  name: string;
  email: string;
  website?: string;
  message?: string;
  acceptTerms?: boolean;
}

/**
 * Fills the public application form (scripts off) and submits it; resolves with the POST's
 * response once the browser has it. Never touches the honeypot field.
 */
export async function submitApplication(page: Page, applicant: Applicant): Promise<Response> {
  await page.getByLabel("Full name").fill(applicant.name);
  await page.getByLabel("Email", { exact: true }).fill(applicant.email);
  if (applicant.website !== undefined) {
    await page.getByLabel("Website or social handle (optional)").fill(applicant.website);
  }
  if (applicant.message !== undefined) await page.getByLabel("Message (optional)").fill(applicant.message);
  await page.getByLabel("I accept the program terms").setChecked(applicant.acceptTerms ?? true);
  // The answer is a new document: wait for it to load so no assertion can see the old one.
  const loaded = page.waitForEvent("load");
  const responded = page.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname.startsWith("/join/"),
  );
  await page.getByRole("button", { name: "Apply" }).click();
  const response = await responded;
  await loaded;
  return response;
}

/**
 * Turns off the browser's own constraint checks on the application form (required, type=email), so
 * a submission reaches the server the way an older browser or a script would send it: what is
 * under test here is the server's validation and how the page shows it.
 */
export async function skipBrowserValidation(page: Page): Promise<void> {
  await page.locator("form.apply").evaluate((form: HTMLFormElement) => {
    form.noValidate = true;
  });
}

/** One row of the approval queue, by applicant email. */
export function queueRow(page: Page, email: string) {
  return page.locator(`tr[data-email="${email}"]`);
}

export interface QueueItem {
  id: number;
  email: string;
  state: string;
  referral_code: string | null;
  decided_by: string | null;
}

/**
 * The signed-in merchant's applications (first page), in one state or all of them, through the
 * server function the queue page uses; `page.request` carries the page's session cookie.
 */
export async function queueItems(page: Page, state?: "pending" | "approved" | "rejected"): Promise<QueueItem[]> {
  const response = await page.request.post("/api/approval_queue", {
    headers: { "content-type": "application/json" },
    data: { filter: state ? { state } : {} },
  });
  expect(response.status(), await response.text()).toBe(200);
  const body = (await response.json()) as { items: QueueItem[] };
  return body.items;
}

/** Calls a server function of the signed-in page as JSON and expects 200. */
export function serverCaller(page: Page) {
  return async (endpoint: string, data: unknown) => {
    const response = await page.request.post(`/api/${endpoint}`, { headers: { "content-type": "application/json" }, data });
    expect(response.status(), await response.text()).toBe(200);
    return response.json();
  };
}

/** `email` as the demo fake Klaviyo holds them: in `list`?, consent, and the Rekomi properties. */
export function klaviyoProfile(page: Page, fake: string, email: string, list = "AFFIL1") {
  return async () => {
    const account = await (await page.request.get(`${fake}/_fake/accounts/DEMO01`)).json();
    const profile = Object.values(account.profiles as Record<string, any>).find((p) => p.email === email);
    return {
      member: profile ? profile.id in account.lists[list].members : false,
      consent: profile?.consent,
      affiliate: profile?.properties?.["Rekomi affiliate"],
      status: profile?.properties?.["Rekomi status"],
    };
  };
}

/**
 * The newest verification link the demo fake Klaviyo received for `email`, as the merchant's flow
 * on `Rekomi Affiliate Verify Email` would email it.
 */
export async function verifyLink(page: Page, fake: string, email: string): Promise<string> {
  let link = "";
  await expect
    .poll(
      async () => {
        const account = await (await page.request.get(`${fake}/_fake/accounts/DEMO01`)).json();
        const sent = (account.events as any[]).filter(
          (e) =>
            e.metric?.data?.attributes?.name === "Rekomi Affiliate Verify Email" &&
            e.profile?.data?.attributes?.email === email,
        );
        link = sent.length > 0 ? sent[sent.length - 1].properties.verify_url : "";
        return link;
      },
      { timeout: 15_000 },
    )
    .not.toBe("");
  return link;
}

/** Opens a verification link in `page` and presses its button (a new document loads). */
export async function confirmEmail(page: Page, link: string): Promise<void> {
  await page.goto(link);
  const loaded = page.waitForEvent("load");
  await page.getByRole("button", { name: "Confirm my email" }).click();
  await loaded;
}

/** The referral code a welcome page shows, if it shows one. */
export function referralCodeIn(html: string): string | undefined {
  return /<code[^>]*>([A-Za-z0-9_-]+)<\/code>/.exec(html)?.[1];
}

/**
 * Applies on a landing page (a plain form post, as with JavaScript off) and confirms the address:
 * through the link the fake Klaviyo received when `fake` is given (Klaviyo connected), else by the
 * merchant's hand, as the queue's "Confirm email" does. Returns the referral code when the campaign
 * approves at once.
 */
export async function applyConfirmed(
  page: Page,
  landingPath: string,
  name: string,
  email: string,
  fake?: string,
): Promise<string | undefined> {
  const joined = await page.request.post(landingPath, {
    form: { name, email, website: "", message: "", accept_terms: "on", rk_trap: "", invite: "" },
  });
  expect(joined.status()).toBe(200);
  expect(referralCodeIn(await joined.text()), "no code before the address is confirmed").toBeUndefined();
  if (fake) {
    const link = new URL(await verifyLink(page, fake, email));
    const confirmed = await page.request.post(link.pathname, { form: { token: link.searchParams.get("token") ?? "" } });
    expect(confirmed.status()).toBe(200);
    return referralCodeIn(await confirmed.text());
  }
  const headers = { "content-type": "application/json" };
  const queue = await page.request.post("/api/approval_queue", {
    headers,
    data: { filter: { state: "pending", campaign: null, search: email, page: 0 } },
  });
  expect(queue.status()).toBe(200);
  const [applicant] = (await queue.json()).items as { id: number; email_verified: boolean }[];
  expect(applicant.email_verified).toBe(false);
  const verified = await page.request.post("/api/verify_emails", { headers, data: { ids: [applicant.id] } });
  expect(verified.status(), await verified.text()).toBe(200);
  const [changed] = (await verified.json()).changed as { referral_code: string | null }[];
  return changed?.referral_code ?? undefined;
}

/** A real PNG of one colour (RGB, 8 bits), for uploads the browser must be able to show. */
export function solidPng(width: number, height: number, [r, g, b]: [number, number, number]): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([length, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [r, g, b]).flat())]);
  const pixels = zlib.deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", pixels), chunk("IEND", Buffer.alloc(0))]);
}
