import { chromium } from "@playwright/test";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
const context = await browser.newContext({ baseURL: "http://127.0.0.1:3000" });
const page = await context.newPage();
page.on("console", (m) => console.log("console:", m.type(), m.text()));
page.on("pageerror", (e) => console.log("pageerror:", e.message));
const r = await page.request.post("/api/sign_up", { headers: { "content-type": "application/json" }, data: { shop_name: "P", email: `p${Date.now()}@example.com`, password: "correct horse battery" } });
console.log("signup", r.status());
for (const path of ["/app/invites", "/app/import"]) {
  const t = Date.now();
  try {
    await page.goto(path, { timeout: 8000, waitUntil: "domcontentloaded" });
    console.log(path, "dom in", Date.now() - t, "ms");
    const v = await Promise.race([page.evaluate(() => document.readyState), new Promise(r => setTimeout(() => r("main thread busy"), 3000))]);
    console.log(path, "readyState", v);
    await page.waitForTimeout(1500);
    const v2 = await Promise.race([page.evaluate(() => document.querySelector("h1")?.textContent), new Promise(r => setTimeout(() => r("main thread busy"), 3000))]);
    console.log(path, "h1", v2);
  } catch (e) { console.log(path, "FAILED", e.message.split("\n")[0]); }
}
await browser.close();
