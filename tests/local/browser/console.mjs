// Drives Debian's headless Chromium through the operator console, like an operator would.
//
//   node console.mjs return API USER PASSWORD CASE_ID NOTE SCREENSHOT
//       signs in, finds the case in the handed-off queue, reads its summary, returns it to
//       automation with NOTE and reloads the case page until it has finished
//   node console.mjs act API USER PASSWORD CASE_ID PARAMS_JSON SCREENSHOT
//       signs in, opens the case, acts by hand with http.post and PARAMS_JSON
//       ({"target", "path", "body"}), and reloads until the case has finished
//
// Prints one JSON line with what it saw; exits 1 (message on stderr) when a check fails.
// Never downloads a browser: Chromium comes from the system (CHROMIUM, default /usr/bin/chromium).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const FINISHED = new Set(["SUCCEEDED", "FAILED", "RESOLVED", "CANCELLED"]);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function text(page, selector) {
  return ((await page.locator(selector).first().textContent({ timeout: 5000 })) ?? "").trim();
}

async function signIn(page, api, user, password) {
  const response = await page.goto(`${api}/console/sign-in`, { waitUntil: "domcontentloaded" });
  check(response.status() === 200, `sign-in page answered ${response.status()}`);
  await page.fill("#username", user);
  await page.fill("#password", password);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.endsWith("/sign-in"), { waitUntil: "domcontentloaded" }),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
  check((await text(page, "#who")) === user, "the header does not name the signed-in user");
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "");
  check(session && session.httpOnly && session.secure && session.sameSite === "Strict",
    `session cookie is not HttpOnly/Secure/Strict: ${JSON.stringify(cookies.map((c) => ({ ...c, value: "…" })))}`);
}

async function untilFinished(page, caseUrl) {
  const deadline = Date.now() + 60000;
  let status = "";
  while (Date.now() < deadline) {
    await page.goto(caseUrl, { waitUntil: "domcontentloaded" });
    status = await text(page, "#status");
    if (FINISHED.has(status)) return status;
    await page.waitForTimeout(500);
  }
  throw new Error(`case still ${status} after 60 s`);
}

async function openFromQueue(page, api, caseId) {
  await page.click("#queue-handoffs");
  const row = page.locator(`tr[data-case="${caseId}"]`);
  check(await row.count() === 1, `case ${caseId} is not in the handed-off queue`);
  const seen = { queueRow: (await row.textContent()).replace(/\s+/g, " ").trim() };
  await Promise.all([
    page.waitForURL((u) => u.pathname.endsWith(`/cases/${caseId}`), { waitUntil: "domcontentloaded" }),
    row.locator("a.case").click(),
  ]);
  seen.status = await text(page, "#status");
  seen.reason = await text(page, "#handoff-reason");
  seen.detail = await text(page, "#handoff-detail");
  seen.chain = await text(page, "#chain");
  seen.input = await text(page, "#input");
  return seen;
}

async function returnToAutomation(page, api, caseId, note, screenshot) {
  const seen = await openFromQueue(page, api, caseId);
  check(seen.status === "HANDED_OFF", `case shows ${seen.status}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.fill("#return-note", note);
  await Promise.all([
    page.waitForURL((u) => u.search.includes("done="), { waitUntil: "domcontentloaded" }),
    page.getByRole("button", { name: "Return to automation" }).click(),
  ]);
  seen.message = await text(page, "#message");
  seen.finished = await untilFinished(page, page.url());
  return seen;
}

async function actByHand(page, api, caseId, params, screenshot) {
  const seen = await openFromQueue(page, api, caseId);
  await page.click("#act");
  await page.getByRole("link", { name: "http.post" }).click();
  await page.fill("[name='p.target']", params.target);
  await page.fill("[name='p.path']", params.path);
  await page.fill("[name='p.body']", JSON.stringify(params.body));
  await page.screenshot({ path: screenshot, fullPage: true });
  await Promise.all([
    page.waitForURL((u) => u.search.includes("done="), { waitUntil: "domcontentloaded" }),
    page.getByRole("button", { name: "Act" }).click(),
  ]);
  seen.message = await text(page, "#message");
  seen.finished = await untilFinished(page, page.url());
  seen.actions = (await page.locator("#actions td.action-status").allTextContents()).map((s) => s.trim());
  return seen;
}

const [mode, api, user, password, caseId, arg, screenshot] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "aios-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ARGS,
  timeout: 30000,
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await signIn(page, api, user, password);
  const seen = mode === "return"
    ? await returnToAutomation(page, api, caseId, arg, screenshot)
    : await actByHand(page, api, caseId, JSON.parse(arg), screenshot);
  console.log(JSON.stringify(seen));
} catch (error) {
  console.error(String(error?.stack ?? error));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
