import { expect, test, type Page } from "@playwright/test";
import {
  PASSWORD,
  applyConfirmed,
  collectPageErrors,
  createCampaign,
  serverCaller,
  signUp,
  uniqueEmail,
  uniqueId,
  untilHydrated,
} from "./helpers";

/** The directory's rows, top to bottom, as the emails they show. */
async function emails(page: Page): Promise<string[]> {
  return page.getByTestId("directory").locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-email") ?? ""));
}

test("the affiliates directory is searched, sorted and filtered, and keeps its view in the address", async ({ page }) => {
  test.setTimeout(90_000);
  const errors = collectPageErrors(page);
  await signUp(page, `Directory Shop ${uniqueId()}`, uniqueEmail("directory"), PASSWORD);
  const call = serverCaller(page);
  const partners = await createCampaign(page, { name: `Partners ${uniqueId()}`, pitch: "Earn.", terms: "Be nice.", autoApprove: true });
  const review = await createCampaign(page, { name: `Reviewed ${uniqueId()}`, pitch: "Earn.", terms: "Be nice." });

  // Ana brings two orders, Bo one bigger one, Cy none; Dee waits for review.
  const ana = uniqueEmail("ana");
  const bo = uniqueEmail("bo");
  const cy = uniqueEmail("cy");
  const dee = uniqueEmail("dee");
  const codes: Record<string, string> = {};
  for (const [name, email] of [["Ana Lima", ana], ["Bo Berg", bo], ["Cy Park", cy]]) {
    codes[email] = (await applyConfirmed(page, partners.landingPath, name, email))!;
  }
  await applyConfirmed(page, review.landingPath, "Dee Ode", dee);
  const { token } = await call("create_api_token", { name: "Directory test" });
  for (const [email, amount] of [[ana, 10_000], [ana, 5_000], [bo, 30_000]] as const) {
    const order = await page.request.post("/api/v1/conversions", {
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      data: { order_id: `D-${uniqueId()}`, amount_minor: amount, currency: "USD", referral_code: codes[email] },
    });
    expect(order.status(), await order.text()).toBe(201);
  }

  // Reached from the navigation; newest first, every state.
  await page.goto("/app");
  await page.locator('nav[aria-label="Main"]').getByRole("link", { name: "Affiliates", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Affiliates", level: 1 })).toBeVisible();
  await expect(page.getByTestId("directory-count")).toHaveText("1–4 of 4 affiliates");
  expect(await emails(page)).toEqual([dee, cy, bo, ana]);
  const row = (email: string) => page.locator(`tr[data-email="${email}"]`);
  await expect(row(ana).locator('[data-col="orders"]')).toHaveText("2");
  await expect(row(ana).locator('[data-col="revenue"]')).toHaveText("150.00 USD");
  await expect(row(ana).locator('[data-col="earned"]')).toHaveText("15.00 USD");
  await expect(row(ana)).toContainText(codes[ana]);
  await expect(row(dee).locator(".badge.pending")).toHaveText("Pending");
  await expect(row(dee)).toContainText("Not synced");

  // Sorted by a column header: the order is the figures', and the address says so.
  await untilHydrated(async () => {
    if (new URL(page.url()).searchParams.get("sort") === "orders") return;
    await page.getByRole("link", { name: "Orders", exact: true }).click({ timeout: 2_000 });
    await expect(page).toHaveURL(/sort=orders/, { timeout: 2_000 });
  });
  await expect.poll(() => emails(page)).toEqual([ana, bo, dee, cy]);
  await expect(page.getByRole("columnheader", { name: /Orders/ })).toHaveAttribute("aria-sort", "descending");
  await page.getByRole("link", { name: "Revenue", exact: true }).click();
  await expect(page).toHaveURL(/sort=revenue/);
  await expect.poll(async () => (await emails(page))[0]).toBe(bo);

  // Searched by the form (state and search together), kept across a reload.
  await page.getByLabel("Search").fill("bo berg");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/q=bo%20berg/);
  await expect.poll(() => emails(page)).toEqual([bo]);
  await page.reload();
  await expect(page.getByLabel("Search")).toHaveValue("bo berg");
  await expect(page.getByTestId("directory-count")).toHaveText("1–1 of 1 affiliate");
  await page.getByLabel("Search").fill("");
  await page.getByLabel("State").selectOption("pending");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/state=pending/);
  await expect.poll(() => emails(page)).toEqual([dee]);
  await page.getByLabel("State").selectOption("banned");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByTestId("directory-count")).toHaveText("No affiliate matches these filters.");
  await page.screenshot({ path: "test-results/screens/directory-empty-filter.png", fullPage: true });

  // A name opens the affiliate's page, which belongs to this entry of the navigation.
  await page.goto("/app/affiliates?sort=revenue");
  await row(bo).getByRole("link", { name: "Bo Berg" }).click();
  await expect(page.getByRole("heading", { name: "Bo Berg", level: 1 })).toBeVisible();
  await expect(page.locator('nav[aria-label="Main"] a[aria-current="page"]')).toHaveText("Affiliates");
  expect(errors).toEqual([]);
});
