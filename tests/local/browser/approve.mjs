// Drives Debian's headless Chromium through an approval link, like a reviewer would.
//
//   node approve.mjs decide  URL EXPECTED_JSON SCREENSHOT_PATH  -> checks the page, clicks Approve
//   node approve.mjs reopen  URL                                -> checks the link is used up
//
// EXPECTED_JSON: {"capability": ..., "risk": ..., "params": [substrings], "input": [substrings]}.
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

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function text(page, selector) {
  return ((await page.locator(selector).textContent({ timeout: 5000 })) ?? "").trim();
}

async function decide(page, url, expected, screenshot) {
  const response = await page.goto(url, { waitUntil: "domcontentloaded" });
  check(response.status() === 200, `GET ${url} answered ${response.status()}`);
  const seen = {
    title: await page.title(),
    capability: await text(page, "#capability"),
    risk: await text(page, "#risk"),
    params: await text(page, "#params"),
    input: await text(page, "#input"),
    approver: await text(page, "#approver"),
  };
  check(seen.capability === expected.capability, `capability ${seen.capability} != ${expected.capability}`);
  check(seen.risk === expected.risk, `risk ${seen.risk} != ${expected.risk}`);
  for (const part of expected.params) check(seen.params.includes(part), `params lack ${part}: ${seen.params}`);
  for (const part of expected.input) check(seen.input.includes(part), `input lacks ${part}: ${seen.input}`);
  for (const label of ["Approve", "Reject", "Request changes"]) {
    check(await page.getByRole("button", { name: label }).isVisible(), `no ${label} button`);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  await Promise.all([
    page.waitForURL((u) => !u.search.includes("t="), { waitUntil: "domcontentloaded" }),
    page.getByRole("button", { name: "Approve" }).click(),
  ]);
  seen.after = await text(page, "#message");
  check(seen.after.startsWith("Approved"), `after the click the page says: ${seen.after}`);
  return seen;
}

async function reopen(page, url) {
  const response = await page.goto(url, { waitUntil: "domcontentloaded" });
  const seen = { status: response.status(), title: await page.title(), message: await text(page, "#message") };
  check(seen.status === 409, `reopened link answered ${seen.status}`);
  check(seen.message.startsWith("already decided by"), `reopened link says: ${seen.message}`);
  return seen;
}

const [mode, url, expectedJson, screenshot] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "aios-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ARGS,
  timeout: 30000,
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const seen = mode === "decide"
    ? await decide(page, url, JSON.parse(expectedJson), screenshot)
    : await reopen(page, url);
  console.log(JSON.stringify(seen));
} catch (error) {
  console.error(String(error?.stack ?? error));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
