import { expect, test } from "@playwright/test";
import {
  PASSWORD,
  collectPageErrors,
  createCampaign,
  openWithoutJavaScript,
  queueRow,
  signUp,
  submitApplication,
  uniqueEmail,
  uniqueId,
  untilHydrated,
} from "./helpers";

/**
 * A campaign's own application questions: written in the campaign editor, asked on the script-free
 * landing page (checked there, typed answers kept), shown in the queue and in the affiliates export.
 */
test("a campaign's own questions are asked without JavaScript, and the answers reach the queue and the export", async ({
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

  // The applicant's side, JavaScript off: a missing answer is named, what was typed stays.
  const email = uniqueEmail("ana");
  const visitor = await openWithoutJavaScript(browser, baseURL);
  try {
    const v = visitor.page;
    await v.goto(campaign.landingPath);
    await expect(v.locator("script")).toHaveCount(0);
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
