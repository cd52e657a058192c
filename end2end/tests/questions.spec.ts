import { expect, test } from "@playwright/test";
import {
  PASSWORD,
  collectPageErrors,
  createCampaign,
  openWithoutJavaScript,
  queueRow,
  signUp,
  solidPng,
  submitApplication,
  uniqueEmail,
  uniqueId,
  untilHydrated,
} from "./helpers";

/**
 * A campaign's own application questions: written in the campaign editor, asked on the script-free
 * landing page (checked there, typed answers kept), shown in the queue and in the affiliates export.
 */
test("a branded landing page asks the campaign's own questions without JavaScript, and the answers reach the queue and the export", async ({
  page,
  browser,
  baseURL,
}) => {
  test.setTimeout(90_000);
  const errors = collectPageErrors(page);
  await signUp(page, `Quiz Shop ${uniqueId()}`, uniqueEmail("quiz"), PASSWORD);
  const campaign = await createCampaign(page, { name: `Quiz ${uniqueId()}`, pitch: "Earn.", terms: "Be nice." });

  // Two questions in the editor: a required choice and an optional long answer.
  const editor = page.getByTestId("questions");
  await untilHydrated(async () => {
    if ((await editor.locator("li.question").count()) > 0) return;
    await editor.getByRole("button", { name: "Add a question" }).click({ timeout: 2_000 });
    await expect(editor.locator("li.question")).toHaveCount(1, { timeout: 2_000 });
  });
  await editor.getByLabel("Question 1").fill("Where do you post most?");
  await editor.getByLabel("Answered with").selectOption("choice");
  await editor.getByLabel("Choices, one a line").fill("Instagram\nTikTok\nYouTube");
  await editor.getByLabel("Required").check();
  await editor.getByRole("button", { name: "Add a question" }).click();
  await editor.getByLabel("Question 2").fill("Tell us about your audience");
  await editor.getByLabel("Answered with").nth(1).selectOption("long_text");
  await editor.getByRole("button", { name: "Save questions" }).click();
  await expect(page.getByText("2 questions saved.")).toBeVisible();
  await page.reload();
  await expect(page.getByTestId("questions").getByLabel("Question 1")).toHaveValue("Where do you post most?");
  await page.screenshot({ path: "test-results/screens/questions-editor.png", fullPage: true });

  // The page's look: a colour (a bad one is named), a logo, a hero picture (an SVG is refused).
  const look = page.getByTestId("branding");
  await look.getByLabel("Brand colour", { exact: true }).fill("teal");
  await look.getByRole("button", { name: "Save colour" }).click();
  await expect(look.getByRole("alert")).toContainText("six hex digits");
  await look.getByLabel("Brand colour", { exact: true }).fill("#0E7C66");
  await look.getByRole("button", { name: "Save colour" }).click();
  await expect(page.getByText("Brand colour #0e7c66 saved.")).toBeVisible();
  const logoField = look.getByTestId("logo-field");
  await logoField.getByLabel("Upload").setInputFiles({
    name: "logo.svg",
    mimeType: "image/svg+xml",
    buffer: Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
  });
  await expect(logoField.getByRole("alert")).toContainText("SVG and other text files can't be used as the logo");
  await logoField.getByLabel("Upload").setInputFiles({ name: "logo.png", mimeType: "image/png", buffer: solidPng(160, 64, [14, 124, 102]) });
  await expect(logoField.getByText("160×64 px")).toBeVisible();
  const heroField = look.getByTestId("hero-field");
  await heroField.getByLabel("Upload").setInputFiles({ name: "hero.png", mimeType: "image/png", buffer: solidPng(960, 240, [240, 200, 120]) });
  await expect(heroField.getByText("960×240 px")).toBeVisible();
  await expect(look.getByTestId("brand-preview").locator(".brand-band")).toHaveCSS("background-color", "rgb(14, 124, 102)");
  await page.reload();
  await expect(page.getByTestId("branding").getByLabel("Brand colour", { exact: true })).toHaveValue("#0e7c66");
  await expect(page.getByTestId("logo-field").getByText("160×64 px")).toBeVisible();
  await page.getByTestId("branding").screenshot({ path: "test-results/screens/branding-editor.png" });

  // The applicant's side, JavaScript off: a missing answer is named, what was typed stays.
  const email = uniqueEmail("ana");
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    const v = visitor.page;
    await v.goto(campaign.landingPath);
    await expect(v.locator("script")).toHaveCount(0);
    // Branded: the band in the merchant's colour, the logo and the hero served by Rekomi and shown.
    await expect(v.locator(".brand-band")).toHaveCSS("background-color", "rgb(14, 124, 102)");
    await expect(v.locator(".brand-band")).toHaveCSS("color", "rgb(255, 255, 255)");
    for (const image of [v.locator("img.brand-logo"), v.locator("img.hero-image")]) {
      await expect(image).toBeVisible();
      expect(await image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
      expect(new URL((await image.getAttribute("src")) ?? "", baseURL).pathname).toMatch(/^\/media\/[0-9a-f]{64}\.png$/);
    }
    await expect(v.getByRole("button", { name: /apply/i })).toHaveCSS("background-color", "rgb(14, 124, 102)");
    await v.screenshot({ path: "test-results/screens/branded-landing.png", fullPage: true });
    await v.getByLabel("Tell us about your audience (optional)").fill("Trail runners in the Alps, 12k followers.");
    const refused = await submitApplication(v, { name: "Ana Lima", email });
    expect(refused.status()).toBe(422);
    // In the summary at the top and under the question itself.
    await expect(v.getByRole("alert")).toContainText("Please answer this question.");
    await expect(v.locator("p.field-error").filter({ hasText: "Please answer this question." })).toBeVisible();
    await expect(v.getByLabel("Where do you post most?")).toHaveAttribute("aria-invalid", "true");
    await v.screenshot({ path: "test-results/screens/questions-landing-error.png", fullPage: true });
    await expect(v.getByLabel("Tell us about your audience (optional)")).toHaveValue("Trail runners in the Alps, 12k followers.");
    await v.getByLabel("Where do you post most?").selectOption("TikTok");
    const accepted = await submitApplication(v, { name: "Ana Lima", email });
    expect(accepted.status()).toBe(200);
  } finally {
    await visitor.context.close();
  }

  // The merchant reads the answers in the queue and in the export.
  await page.goto("/app/queue");
  const answers = queueRow(page, email).getByTestId("answers");
  await expect(answers).toContainText("Where do you post most?");
  await expect(answers).toContainText("TikTok");
  await expect(answers).toContainText("Trail runners in the Alps, 12k followers.");
  const csv = await page.request.get("/api/exports/affiliates.csv");
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain(
    "Where do you post most?: TikTok; Tell us about your audience: Trail runners in the Alps, 12k followers.",
  );
  expect(errors).toEqual([]);
});
