import AxeBuilder from "@axe-core/playwright";
import { expect, test, type APIResponse, type Browser, type BrowserContext, type Page } from "@playwright/test";
import path from "node:path";
import {
  HYDRATION_TIMEOUT,
  PASSWORD,
  collectPageErrors,
  createCampaign,
  openWithoutJavaScript,
  queueItems,
  queueRow,
  signUp,
  submitApplication,
  uniqueEmail,
  uniqueId,
} from "./helpers";

/**
 * Every route of the app, walked against one merchant with real data: each merchant page loaded
 * directly (as after a reload) and reached by client-side navigation, on a desktop and on a phone,
 * plus the public pages. A page fails on an uncaught error, a `console.error`, a failed request, a
 * same-origin answer of 400 or more, a serious or critical axe violation (WCAG 2.1 A and AA), and
 * on a phone on horizontal overflow. Screenshots of every page land in SCREENS_DIR for review.
 */

/** Where the screenshots go: `{desktop|phone}-{name}.png` (public pages: `desktop-public-{name}.png`). */
const SCREENS_DIR = path.join(__dirname, "..", "test-results", "screens");
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/** The live-sync feed the merchant frame opens once it has hydrated (an effect, browser only). */
const FEED = "/api/sync/events";
const JSON_HEADERS = { "content-type": "application/json" };
/** The fake Klaviyo's demo account (scripts/test.sh starts it) and its single opt-in "Affiliates" list. */
const KLAVIYO_KEY = "pk_demo_rekomi_full_access_0001";
const KLAVIYO_LIST = "AFFIL1";
/** Where the campaign's tracking links lead; nothing is ever fetched from it. */
const SHOP_URL = "http://shop.example.com/";
/** Headless Chromium says "HeadlessChrome", which the click counter rightly drops as a bot. */
const VISITOR_UA =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

// ---------------------------------------------------------------------------------------------
// The navigation of the signed-in frame and the route table.

const NAV = [
  {
    group: "Program",
    links: [
      { label: "Home", href: "/app" },
      { label: "Campaigns", href: "/app/campaigns" },
      { label: "Approval queue", href: "/app/queue" },
      { label: "Affiliates", href: "/app/affiliates" },
      { label: "Invites", href: "/app/invites" },
      { label: "Import", href: "/app/import" },
    ],
  },
  {
    group: "Money",
    links: [
      { label: "Results", href: "/app/results" },
      { label: "Payouts", href: "/app/payouts" },
    ],
  },
  {
    group: "Settings",
    links: [
      { label: "Klaviyo", href: "/app/klaviyo" },
      { label: "Shopify", href: "/app/shopify" },
      { label: "Shop & tracking", href: "/app/tracking" },
      { label: "Integrations & API", href: "/app/integrations" },
    ],
  },
] as const;

type NavLabel = (typeof NAV)[number]["links"][number]["label"];
const NAV_LINKS: readonly { label: NavLabel; href: string }[] = NAV.flatMap(
  (g): readonly { label: NavLabel; href: string }[] => g.links,
);

interface MerchantRoute {
  /** Used in screenshot names. */
  name: string;
  path: string;
  h1: string | RegExp;
  /** The navigation entry marked `aria-current="page"` there. */
  current: NavLabel;
}

function merchantRoutes(seed: Seed): MerchantRoute[] {
  return [
    { name: "home", path: "/app", h1: "Home", current: "Home" },
    { name: "campaigns", path: "/app/campaigns", h1: "Campaigns", current: "Campaigns" },
    { name: "campaign-new", path: "/app/campaigns/new", h1: "New campaign", current: "Campaigns" },
    { name: "campaign", path: `/app/campaigns/${seed.campaign.id}`, h1: seed.campaign.name, current: "Campaigns" },
    { name: "queue", path: "/app/queue", h1: "Approval queue", current: "Approval queue" },
    { name: "directory", path: "/app/affiliates", h1: "Affiliates", current: "Affiliates" },
    { name: "affiliate", path: `/app/affiliates/${seed.affiliate.id}`, h1: seed.affiliate.name, current: "Affiliates" },
    { name: "klaviyo", path: "/app/klaviyo", h1: "Klaviyo", current: "Klaviyo" },
    { name: "invites", path: "/app/invites", h1: "Invite affiliates", current: "Invites" },
    { name: "import", path: "/app/import", h1: "Import from Rewardful", current: "Import" },
    { name: "results", path: "/app/results", h1: "Results", current: "Results" },
    { name: "payouts", path: "/app/payouts", h1: "Payouts", current: "Payouts" },
    { name: "shopify", path: "/app/shopify", h1: "Shopify", current: "Shopify" },
    { name: "tracking", path: "/app/tracking", h1: "Shop & tracking", current: "Shop & tracking" },
    { name: "integrations", path: "/app/integrations", h1: /^Integrations( & API)?$/, current: "Integrations & API" },
  ];
}

/** How each merchant page is reached from the one before it, starting at /app/campaigns: the navigation, or
 * the in-page link that leads there. Every route appears at least once. */
const WALK: [string, (page: Page, seed: Seed) => Promise<void>][] = [
  ["campaign-new", (page) => page.locator("main").getByRole("link", { name: "New campaign", exact: true }).click()],
  ["campaigns", byNav("Campaigns")],
  ["campaign", (page, seed) => page.locator("main").getByRole("link", { name: seed.campaign.name, exact: true }).click()],
  ["queue", byNav("Approval queue")],
  ["affiliate", openApprovedAffiliate],
  ["directory", byNav("Affiliates")],
  ["invites", byNav("Invites")],
  ["import", byNav("Import")],
  ["results", byNav("Results")],
  ["payouts", byNav("Payouts")],
  ["klaviyo", byNav("Klaviyo")],
  ["shopify", byNav("Shopify")],
  ["tracking", byNav("Shop & tracking")],
  ["integrations", byNav("Integrations & API")],
  ["campaigns", byNav("Campaigns")],
  ["home", byNav("Home")],
];

function navLink(page: Page, label: NavLabel) {
  // includeHidden: on a phone the links exist but are hidden until the menu opens.
  return page.locator('nav[aria-label="Main"]').getByRole("link", { name: label, exact: true, includeHidden: true });
}

function byNav(label: NavLabel) {
  return (page: Page) => navLink(page, label).click();
}

/** In the queue: the "Approved" tab, then the approved affiliate's name. */
async function openApprovedAffiliate(page: Page, seed: Seed): Promise<void> {
  const tab = page.getByRole("tab", { name: /^Approved \(\d+\)$/ });
  await tab.click();
  await expect(tab).toHaveAttribute("aria-selected", "true");
  await queueRow(page, seed.affiliate.email).getByRole("link", { name: seed.affiliate.name, exact: true }).click();
}

// ---------------------------------------------------------------------------------------------
// What is checked on every page.

/**
 * Watches a page for uncaught errors and `console.error` (collectPageErrors), failed requests and
 * same-origin answers of 400 or more. Returns `drain`, which hands over what was seen since the
 * last call. Leaving a page cancels its live-sync feed (net::ERR_ABORTED on FEED): expected.
 */
function watchPage(page: Page, baseURL: string): () => string[] {
  const problems = collectPageErrors(page);
  const origin = new URL(baseURL).origin;
  page.on("requestfailed", (request) => {
    const url = new URL(request.url());
    const why = request.failure()?.errorText ?? "failed";
    if (url.pathname === FEED && why.includes("ERR_ABORTED")) return;
    problems.push(`request failed: ${request.method()} ${url.pathname}${url.search} (${why})`);
  });
  page.on("response", (response) => {
    const url = new URL(response.url());
    if (url.origin !== origin || response.status() < 400) return;
    problems.push(`HTTP ${response.status()}: ${response.request().method()} ${url.pathname}${url.search}`);
  });
  return () => problems.splice(0);
}

/** Serious and critical axe violations (WCAG 2.0/2.1 A and AA), one line each. */
async function axeViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => {
      const targets = v.nodes
        .slice(0, 3)
        .map((node) => node.target.map((t) => (Array.isArray(t) ? t.join(" >>> ") : t)).join(" → "));
      return `axe ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} element(s), e.g. ${targets.join(" | ")})`;
    });
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENS_DIR, `${name}.png`), fullPage: true, animations: "disabled" });
}

/** Horizontal overflow of the page itself (1px of rounding allowed), with a hint of what sticks out. */
async function overflow(page: Page): Promise<string[]> {
  const seen = await page.evaluate((phoneWidth) => {
    // A zoomed-out mobile viewport can widen innerWidth to the content: the device width bounds it.
    const limit = Math.min(window.innerWidth, phoneWidth);
    const scroll = document.documentElement.scrollWidth;
    const wide: string[] = [];
    if (scroll > limit + 1) {
      for (const el of Array.from(document.querySelectorAll("body *"))) {
        if (el.getBoundingClientRect().right > limit + 1 && wide.length < 5) {
          const cls = typeof el.className === "string" && el.className ? `.${el.className.trim().split(/\s+/).join(".")}` : "";
          wide.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${cls}`);
        }
      }
    }
    return { scroll, limit, wide };
  }, PHONE.width);
  if (seen.scroll <= seen.limit + 1) return [];
  return [`overflows horizontally: scrollWidth ${seen.scroll} > ${seen.limit} (wider: ${seen.wide.join(", ")})`];
}

/**
 * Loads a merchant page as after a reload and waits until it has hydrated: the frame opens its
 * live-sync feed from an effect, which runs only in the browser once hydration is done. Then the
 * network settles and the page is checked.
 */
async function loadDirectly(page: Page, route: MerchantRoute, seed: Seed): Promise<void> {
  const [, response] = await Promise.all([
    page
      .waitForRequest((r) => new URL(r.url()).pathname === FEED, { timeout: HYDRATION_TIMEOUT })
      .catch(() => {
        throw new Error(`${route.path} did not hydrate: the frame never opened ${FEED}`);
      }),
    page.goto(route.path),
  ]);
  expect(response?.status(), `${route.path} answered`).toBe(200);
  await page.waitForLoadState("networkidle");
  await expectAt(page, route, seed);
}

/** The page is the route's, fully loaded, inside the signed-in frame with the right entry current. */
async function expectAt(page: Page, route: MerchantRoute, seed: Seed): Promise<void> {
  await expect(page).toHaveURL((url) => url.pathname === route.path);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(route.h1);
  await expect(page.locator("main .loading"), `${route.path} still loading`).toHaveCount(0);
  await expect(page.locator(".sidebar .shop")).toHaveText(seed.shop);
  await expect(page.locator('nav[aria-label="Main"] a[aria-current="page"]')).toHaveText([route.current]);
}

async function merchantContext(browser: Browser, baseURL: string, seed: Seed, phone: boolean): Promise<BrowserContext> {
  return browser.newContext({
    baseURL,
    storageState: seed.storageState,
    viewport: phone ? PHONE : DESKTOP,
    ...(phone ? { isMobile: true, hasTouch: true } : {}),
  });
}

function required(baseURL: string | undefined): string {
  if (!baseURL) throw new Error("baseURL is not set (playwright.config.ts sets it)");
  return baseURL;
}

// ---------------------------------------------------------------------------------------------
// Seeding: one merchant with something on every page.

type StorageState = Awaited<ReturnType<BrowserContext["storageState"]>>;

interface Person {
  name: string;
  email: string;
}

interface Seed {
  storageState: StorageState;
  shop: string;
  merchantSlug: string;
  campaign: { id: number; name: string; landingPath: string };
  /** Approved, with a click, a paid-out order and a portal. */
  affiliate: Person & { id: number };
}

async function callServer<T>(page: Page, endpoint: string, data: unknown): Promise<T> {
  const response = await page.request.post(`/api/${endpoint}`, { headers: JSON_HEADERS, data });
  expect(response.status(), `${endpoint}: ${await response.text()}`).toBe(200);
  return (await response.json()) as T;
}

/** The last report of an import's NDJSON answer; fails on an error line. */
async function importReport(response: APIResponse, what: string): Promise<{ id: number; state: string }> {
  const body = await response.text();
  expect(response.status(), `${what}: ${body}`).toBe(200);
  const lines = body
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { report?: { id: number; state: string }; error?: { message: string } });
  expect(lines.find((l) => l.error)?.error?.message, `${what} failed`).toBeUndefined();
  const report = lines.reverse().find((l) => l.report)?.report;
  if (!report) throw new Error(`${what}: no report in ${body}`);
  return report;
}

async function seedMerchant(browser: Browser, baseURL: string): Promise<Seed> {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    const shop = `Routes Shop ${uniqueId()}`;
    await signUp(page, shop, uniqueEmail("routes"), PASSWORD);

    // Klaviyo connected to the demo account, with a default list (as sync.spec.ts does).
    await callServer(page, "connect_klaviyo", { key: KLAVIYO_KEY, confirm_account_id: null });
    await callServer(page, "choose_default_list", { list_id: KLAVIYO_LIST });

    // A campaign with manual approval, a shop address for its links, and a 7-day hold.
    const name = `Routes ${uniqueId()}`;
    const created = await createCampaign(page, {
      name,
      pitch: "Earn 10% on every order your readers place.",
      terms: "Disclose the partnership in every post.",
      destination: SHOP_URL,
      holdDays: "7",
    });
    const merchantSlug = created.landingPath.split("/")[2];

    // Three applications through the public form: two approved, one left pending.
    const ana: Person = { name: "Ana Lima", email: uniqueEmail("ana") };
    const bo: Person = { name: "Bo Lind", email: uniqueEmail("bo") };
    const cleo: Person = { name: "Cleo Marsh", email: uniqueEmail("cleo") };
    for (const person of [ana, bo, cleo]) {
      await visitor.page.goto(created.landingPath);
      const response = await submitApplication(visitor.page, { ...person, message: "I write about the outdoors." });
      expect(response.status(), `${person.name}'s application`).toBe(200);
    }
    const pending = await queueItems(page, "pending");
    const idOf = (person: Person) => {
      const item = pending.find((i) => i.email === person.email);
      if (!item) throw new Error(`${person.email} is not in the queue`);
      return item.id;
    };
    // Their addresses confirmed (the link itself is followed in sync.spec.ts and lifecycle.spec.ts).
    await callServer(page, "verify_emails", { ids: [idOf(ana), idOf(bo)] });
    await callServer(page, "decide_applications", { ids: [idOf(ana), idOf(bo)], decision: "approve" });
    const approved = await queueItems(page, "approved");
    const codeOf = (person: Person) => {
      const code = approved.find((i) => i.email === person.email)?.referral_code;
      if (!code) throw new Error(`${person.email} has no referral code`);
      return code;
    };

    // The shop side: the Shopify signing secret and an API token for the conversion API.
    await callServer(page, "set_shopify_secret", { secret: "shpss_routes_walk_secret" });
    const { token } = await callServer<{ token: string }>(page, "create_api_token", { name: "Routes walk" });

    // A click on Ana's link (a visitor with a browser's user agent).
    const clicker = await browser.newContext({ baseURL, userAgent: VISITOR_UA });
    try {
      const redirect = await clicker.request.get(`/r/${codeOf(ana)}`, { maxRedirects: 0 });
      expect(redirect.status(), "the tracking link redirects").toBe(302);
    } finally {
      await clicker.close();
    }

    const order = async (person: Person, amountMinor: number) => {
      const id = `R-${uniqueId()}`;
      const response = await page.request.post("/api/v1/conversions", {
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": id },
        data: { order_id: id, amount_minor: amountMinor, currency: "USD", referral_code: codeOf(person) },
      });
      expect(response.status(), `conversion for ${person.name}: ${await response.text()}`).toBe(201);
    };

    // Ana's order passes its hold (the test clock moves, and is put back) and goes into a payout
    // run, left open for review; Bo's order, placed afterwards, stays pending.
    await order(ana, 12_000);
    expect((await page.request.post("/_test/clock", { data: { days: 8 } })).status(), "REKOMI_TEST_HOOKS=1").toBe(200);
    try {
      await callServer(page, "create_payout_run", {});
    } finally {
      await page.request.post("/_test/clock", { data: { days: -8 } });
    }
    await order(bo, 4_500);

    // An invite, sent through Klaviyo's flow event.
    const sent = await callServer<{ sent: number }>(page, "send_invites", {
      request: { campaign: created.id, people: `${uniqueEmail("ivy")}, Ivy Stone\n`, expires_days: 14 },
    });
    expect(sent.sent, "invites sent").toBe(1);

    // A Rewardful import: one affiliate created, one row with an error.
    const csv =
      "Affiliate First Name,Affiliate Last Name,Affiliate Email,Token,PayPal Email,state\n" +
      `Dee,Park,${uniqueEmail("dee")},,,active\n` +
      "Cy,Ode,not-an-email,cy,,active\n";
    const checked = await importReport(
      await page.request.post(
        `/api/imports/upload?campaign=${created.id}&consent=elsewhere&filename=rewardful-affiliates.csv`,
        { headers: { "content-type": "text/csv" }, data: csv },
      ),
      "the import's check",
    );
    expect(checked.state).toBe("ready");
    const imported = await importReport(await page.request.post(`/api/imports/${checked.id}/confirm`), "the import");
    expect(imported.state).toBe("imported");

    // A webhook endpoint, added last so no event is ever delivered to it (nothing listens there).
    await callServer(page, "add_webhook", { url: "http://127.0.0.1:9/hooks/rekomi", topics: ["affiliate.approved"] });

    return {
      storageState: await context.storageState(),
      shop,
      merchantSlug,
      campaign: { id: created.id, name, landingPath: created.landingPath },
      affiliate: { ...ana, id: idOf(ana) },
    };
  } finally {
    await visitor.context.close();
    await context.close();
  }
}

// ---------------------------------------------------------------------------------------------

test.describe("every route, on a desktop and a phone", () => {
  test.describe.configure({ mode: "serial" });

  let seed: Seed;

  test.beforeAll(async ({ browser, baseURL }) => {
    test.setTimeout(120_000);
    seed = await seedMerchant(browser, required(baseURL));
  });

  test("merchant pages load directly, hydrate, and pass axe (desktop)", async ({ browser, baseURL }) => {
    test.setTimeout(240_000);
    const context = await merchantContext(browser, required(baseURL), seed, false);
    const page = await context.newPage();
    const drain = watchPage(page, required(baseURL));
    const findings: string[] = [];
    // How the first page and its build output are delivered: compressed, and the hashed files
    // cached for a year (a reload then downloads only the page).
    const delivered = new Map<string, Record<string, string>>();
    page.on("response", async (r) => {
      const path = new URL(r.url()).pathname;
      if (path === "/app" || /^\/pkg\/rekomi\.[\w-]+\.(wasm|js|css)$/.test(path)) {
        delivered.set(path.endsWith(".wasm") ? "wasm" : path.endsWith(".js") ? "js" : path.endsWith(".css") ? "css" : "page", await r.allHeaders());
      }
    });
    try {
      for (const route of merchantRoutes(seed)) {
        await test.step(route.path, async () => {
          await loadDirectly(page, route, seed);
          await screenshot(page, `desktop-${route.name}`);
          findings.push(...(await axeViolations(page)).map((v) => `${route.path}: ${v}`));
          findings.push(...drain().map((p) => `${route.path}: ${p}`));
        });
      }

      // The frame: grouped navigation with the right targets, no menu button, and a way out.
      const nav = page.locator('nav[aria-label="Main"]');
      for (const { group, links } of NAV) {
        await expect(nav.getByText(group, { exact: true })).toBeVisible();
        for (const link of links) {
          await expect(navLink(page, link.label)).toBeVisible();
          await expect(navLink(page, link.label)).toHaveAttribute("href", link.href);
        }
      }
      await expect(page.getByRole("button", { name: "Menu" })).toBeHidden();
      await expect(page.locator(".sidebar").getByRole("button", { name: "Log out" })).toBeVisible();
      findings.push(...drain());

      for (const kind of ["page", "wasm", "js", "css"]) {
        const headers = delivered.get(kind);
        expect(headers, `${kind} was requested`).toBeDefined();
        expect(headers?.["content-encoding"], `${kind} is compressed`).toBe("br");
        if (kind !== "page") {
          expect(headers?.["cache-control"], `${kind} is cached for a year`).toBe("public, max-age=31536000, immutable");
          expect(headers?.["vary"], `${kind} varies by encoding`).toMatch(/accept-encoding/i);
        }
      }
    } finally {
      await context.close();
    }
    expect(findings, "problems on the merchant pages (desktop)").toEqual([]);
  });

  test("merchant pages are reached by client-side navigation", async ({ browser, baseURL }) => {
    test.setTimeout(180_000);
    const routes = new Map(merchantRoutes(seed).map((r) => [r.name, r]));
    expect([...routes.keys()].filter((name) => !WALK.some(([to]) => to === name)), "routes the walk misses").toEqual([]);

    const context = await merchantContext(browser, required(baseURL), seed, false);
    const page = await context.newPage();
    const drain = watchPage(page, required(baseURL));
    const findings: string[] = [];
    try {
      await loadDirectly(page, routes.get("campaigns")!, seed);
      // Gone after any full page load: proves each step below stayed in the app.
      await page.evaluate(() => {
        (window as unknown as { rekomiWalk: boolean }).rekomiWalk = true;
      });
      let from = "/app/campaigns";
      for (const [name, go] of WALK) {
        const route = routes.get(name)!;
        await test.step(`${from} → ${route.path}`, async () => {
          await go(page, seed);
          await expectAt(page, route, seed);
          const stayed = await page.evaluate(() => (window as unknown as { rekomiWalk?: boolean }).rekomiWalk === true);
          expect(stayed, `${from} → ${route.path} loaded a new document instead of navigating in the app`).toBe(true);
          findings.push(...drain().map((p) => `${from} → ${route.path}: ${p}`));
        });
        from = route.path;
      }
    } finally {
      await context.close();
    }
    expect(findings, "problems while navigating").toEqual([]);
  });

  test("merchant pages fit a phone, with the navigation behind Menu", async ({ browser, baseURL }) => {
    test.setTimeout(240_000);
    const context = await merchantContext(browser, required(baseURL), seed, true);
    const page = await context.newPage();
    const drain = watchPage(page, required(baseURL));
    const menu = page.getByRole("button", { name: "Menu" });
    const findings: string[] = [];
    try {
      for (const route of merchantRoutes(seed)) {
        await test.step(route.path, async () => {
          await loadDirectly(page, route, seed);
          findings.push(...(await overflow(page)).map((p) => `${route.path}: ${p}`));
          await screenshot(page, `phone-${route.name}`);
          findings.push(...(await axeViolations(page)).map((v) => `${route.path}: ${v}`));

          // Collapsed: the links are there but hidden until the menu opens.
          await expect(menu).toBeVisible();
          await expect(menu).toHaveAttribute("aria-expanded", "false");
          for (const { label } of NAV_LINKS) {
            await expect(navLink(page, label)).toHaveCount(1);
            await expect(navLink(page, label)).toBeHidden();
          }
          await menu.click();
          await expect(menu).toHaveAttribute("aria-expanded", "true");
          for (const { label } of NAV_LINKS) await expect(navLink(page, label)).toBeVisible();
          findings.push(...(await overflow(page)).map((p) => `${route.path} (menu open): ${p}`));
          if (route.name === "campaigns") await screenshot(page, "phone-menu-open");
          await menu.click();
          await expect(menu).toHaveAttribute("aria-expanded", "false");
          await expect(navLink(page, "Campaigns")).toBeHidden();
          findings.push(...drain().map((p) => `${route.path}: ${p}`));
        });
      }

      // A link tapped in the open menu shows its page with the menu closed again.
      await test.step("a link in the menu", async () => {
        await menu.click();
        await navLink(page, "Payouts").click();
        await expect(page).toHaveURL((url) => url.pathname === "/app/payouts");
        await expect(page.getByRole("heading", { level: 1 })).toHaveText("Payouts");
        await expect(menu).toHaveAttribute("aria-expanded", "false");
        await expect(navLink(page, "Payouts")).toBeHidden();
        findings.push(...drain().map((p) => `menu → /app/payouts: ${p}`));
      });
    } finally {
      await context.close();
    }
    expect(findings, "problems on the merchant pages (phone)").toEqual([]);
  });

  test("public pages: home, sign-up, log-in, API docs, the script-free landing page and the portal", async ({
    browser,
    baseURL,
  }) => {
    test.setTimeout(180_000);
    const base = required(baseURL);
    const findings: string[] = [];

    /** Loads a public page and checks its h1 (and `check`); with `axe`, screenshots it and runs axe. */
    const visit = async (
      page: Page,
      drain: () => string[],
      name: string,
      where: string,
      h1: string,
      { axe = true, check }: { axe?: boolean; check?: () => Promise<void> } = {},
    ) => {
      await test.step(`${where}${axe ? "" : " (scripts off)"}`, async () => {
        const response = await page.goto(where);
        expect(response?.status(), `${where} answered`).toBe(200);
        await page.waitForLoadState("networkidle");
        await expect(page.getByRole("heading", { level: 1 })).toHaveText(h1);
        await check?.();
        if (axe) {
          await screenshot(page, `desktop-public-${name}`);
          findings.push(...(await axeViolations(page)).map((v) => `${where}: ${v}`));
        }
        findings.push(...drain().map((p) => `${where}: ${p}`));
      });
    };

    // The landing page with scripts off: it works, and ships no script at all.
    const { landingPath } = seed.campaign;
    const visitor = await openWithoutJavaScript(browser, base);
    try {
      const v = visitor.page;
      const drainVisitor = watchPage(v, base);
      await v.setViewportSize(DESKTOP);
      const scriptFree = async () => {
        await expect(v.locator("script")).toHaveCount(0);
        await expect(v.getByRole("button", { name: "Apply" })).toBeVisible();
      };
      await visit(v, drainVisitor, "landing", landingPath, seed.campaign.name, { axe: false, check: scriptFree });
    } finally {
      await visitor.context.close();
    }

    // Signed out, scripts on. axe needs scripts to run (with them off it never answers), so the
    // landing page is checked for accessibility here: the same server-rendered, script-free HTML.
    const context = await browser.newContext({ baseURL: base, viewport: DESKTOP });
    const page = await context.newPage();
    const drain = watchPage(page, base);
    try {
      await visit(page, drain, "landing", landingPath, seed.campaign.name, {
        check: () => expect(page.locator("script")).toHaveCount(0),
      });
      await visit(page, drain, "home", "/", "Rekomi");
      await visit(page, drain, "signup", "/signup", "Create your merchant account");
      await visit(page, drain, "login", "/login", "Log in");
      await visit(page, drain, "api-docs", "/api/v1/docs", "Rekomi API");
      await visit(page, drain, "portal-sign-in", `/portal/${seed.merchantSlug}`, "Sign in");

      // The affiliate signs in to the portal with a link the merchant hands out.
      const merchant = await merchantContext(browser, base, seed, false);
      let portalLink: URL;
      try {
        const link = await merchant.request.post("/api/portal_link", { headers: JSON_HEADERS, data: { id: seed.affiliate.id } });
        expect(link.status(), await link.text()).toBe(200);
        const [url] = (await link.json()) as [string, boolean];
        portalLink = new URL(url);
      } finally {
        await merchant.close();
      }
      await visit(page, drain, "portal-confirm", portalLink.pathname + portalLink.search, "Sign in");
      await page.getByRole("button", { name: "Sign in to your dashboard" }).click();
      await expect(page).toHaveURL((url) => url.pathname === `/portal/${seed.merchantSlug}`);
      await visit(page, drain, "portal", `/portal/${seed.merchantSlug}`, `Hi ${seed.affiliate.name.split(" ")[0]}`);
      await expect(page.getByTestId("portal-stats")).toBeVisible();
      findings.push(...drain());
    } finally {
      await context.close();
    }
    expect(findings, "problems on the public pages").toEqual([]);
  });
});
