// Browser tests of the web portal (issue 10, "Done when"). Starts the real yktd (demo
// configuration, temporary paths, as tests/e2e/harness.py does) and ykt-web, provisions a
// small campus with yktctl, and drives Debian's chromium through playwright-core:
//
//   - a holder signs in, sees the balance, reports the card lost, and a PAY is then refused;
//   - the holder changes the query password and signs in with the new one;
//   - a department head approves a leave and the leave-day balance drops;
//   - an operator replaces the card and the balance moves by the fee;
//   - a wrong role gets 403 (pages and API); a POST without the CSRF token gets 403;
//     a cross-site sign-in is refused; a wrong password is refused.
//
// Screenshots of the main pages go to $YKT_WEB_SCREENSHOTS (default BUILD/web-screenshots).
// Environment: YKT_SOURCE_DIR, YKT_BUILD_DIR (set by ctest), CHROMIUM (/usr/bin/chromium).
// Ends with the line "N passed, N failed"; exits 1 if anything failed.
"use strict";

const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const SOURCE = path.resolve(process.env.YKT_SOURCE_DIR || path.join(__dirname, "..", ".."));
const BUILD = path.resolve(process.env.YKT_BUILD_DIR || path.join(SOURCE, "build", "test"));
const YKTD = path.join(BUILD, "core", "yktd");
const YKTCTL = path.join(BUILD, "tools", "yktctl", "yktctl");
const YKTWEB = path.join(BUILD, "tools", "web", "ykt-web");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.YKT_WEB_SCREENSHOTS || path.join(BUILD, "web-screenshots");
const MASTER_KEY = "000102030405060708090a0b0c0d0e0f";
const STAFF_PW = "operator-pass-1";

let chromium;
try {
  ({ chromium } = require("playwright-core"));
} catch (e) {
  console.error("playwright-core is missing: run `npm ci` in tests/web (make test does)");
  process.exit(1);
}

const results = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ykt-web-"));
const sock = path.join(dir, "yktd.sock");
const procs = [];

function log(...a) { console.log(...a); }

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push([name, true]);
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push([name, false]);
    log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

function assert(cond, msg) { if (!cond) throw new Error("assertion failed: " + msg); }
function eq(a, b, msg) {
  if (JSON.stringify(a) !== JSON.stringify(b))
    throw new Error(`${msg}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}

function ctl(...args) {
  const env = { ...process.env };
  delete env.YKTCTL_USER; delete env.YKTCTL_PASSWORD;
  const out = execFileSync(YKTCTL, ["-s", sock, "--json", ...args], { env, encoding: "utf8",
                                                                   stdio: ["ignore", "pipe", "pipe"] });
  return out.trim() ? JSON.parse(out) : null;
}

function ctlAs(user, password, ...args) {
  const env = { ...process.env, YKTCTL_PASSWORD: password };
  delete env.YKTCTL_USER;
  const out = execFileSync(YKTCTL, ["-s", sock, "--json", "-u", user, ...args],
                           { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return out.trim() ? JSON.parse(out) : null;
}

function addOperator(name, role, department) {
  const args = ["operator", "add", name, "--role", role];
  if (department) args.push("--department", department);
  const initial = ctl(...args).initial_password;
  ctlAs(name, initial, "passwd", initial, STAFF_PW);
}

// Starts a program and resolves with the first match of `ready` in its output.
function startProc(cmd, args, logName, ready, opts = {}) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(path.join(dir, logName), "a");
    const p = spawn(cmd, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], ...opts });
    procs.push(p);
    let text = "";
    const timer = setTimeout(() => reject(new Error(`${cmd} not ready:\n${text}`)), 30000);
    const onData = d => {
      fs.writeSync(out, d);
      text += d.toString();
      const m = text.match(ready);
      if (m) { clearTimeout(timer); resolve({ proc: p, match: m }); }
    };
    p.stdout.on("data", onData);
    p.stderr.on("data", onData);
    p.on("error", e => { clearTimeout(timer); reject(e); });
    p.on("exit", code => { clearTimeout(timer); reject(new Error(`${cmd} exited ${code}:\n${text}`)); });
  });
}

function stopProc(p) {
  return new Promise(resolve => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve(p.exitCode);
    const timer = setTimeout(() => p.kill("SIGKILL"), 20000);
    p.removeAllListeners("exit");
    p.on("exit", code => { clearTimeout(timer); resolve(code); });
    p.kill("SIGTERM");
  });
}

function pay(port, terminal, secret, uid, amount, seq, atc) {
  const out = execFileSync("python3", [path.join(__dirname, "pay.py"), String(port), terminal,
    secret, uid, MASTER_KEY, String(amount), String(seq), String(atc)], { encoding: "utf8" });
  return JSON.parse(out);
}

// A future week's Monday and Tuesday (workdays for the staff policy), as YYYY-MM-DD.
function leaveDates() {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + 21);
  while (d.getUTCDay() !== 1) d.setUTCDate(d.getUTCDate() + 1);
  const from = d.toISOString().slice(0, 10);
  d.setUTCDate(d.getUTCDate() + 1);
  return [from, d.toISOString().slice(0, 10)];
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + ".png"), fullPage: true });
}

async function main() {
  const t0 = Date.now();
  fs.mkdirSync(SHOTS, { recursive: true });
  const keyFile = path.join(dir, "master.key");
  fs.writeFileSync(keyFile, MASTER_KEY + "\n", { mode: 0o600 });
  const sets = {
    "storage.path": path.join(dir, "ykt.db"), "admin.socket": sock,
    "terminal.listen": "127.0.0.1:0", "log.level": "info", "cards.master_key": keyFile,
    "rules.dir": path.join(SOURCE, "scripts"), "plugins.dir": path.join(BUILD, "plugins"),
    "plugin.attendance.enabled": "yes",
  };
  const yargs = ["-c", path.join(SOURCE, "conf", "ykt.ini")];
  for (const [k, v] of Object.entries(sets)) yargs.push("--set", `${k}=${v}`);
  const yktd = await startProc(YKTD, yargs, "yktd.log", /ready: terminal port [^ ]*:(\d+)/);
  const termPort = Number(yktd.match[1]);

  // ---- the campus ----
  ctl("merchant", "add", "canteen-1", "--name", "一食堂", "--category", "canteen");
  const posSecret = ctl("terminal", "add", "POS-1", "--type", "pos", "--owner", "canteen-1").secret;
  ctl("person", "add", "S1", "--kind", "student", "--name", "张三", "--gender", "M",
      "--id-number", "110105200503070019", "--department", "CS", "--phone", "13812345678",
      "--class", "CS-2025-1", "--enrolled", "2025-09-01", "--study-years", "4");
  const s1 = ctl("card", "issue", "S1");
  ctl("account", "topup", "S1", "--amount", "100");
  ctl("person", "add", "T1", "--kind", "staff", "--name", "李老师", "--gender", "F",
      "--id-number", "110105198001010024", "--department", "CS", "--phone", "13900001111",
      "--valid-until", "2030-12-31");
  ctl("approval", "add", "T1", "--kind", "unit_leader", "--approver", "王主任", "--ref", "HR-1");
  ctl("approval", "add", "T1", "--kind", "functional_dept", "--approver", "人事处", "--ref", "HR-2");
  ctl("card", "issue", "T1");
  addOperator("counter1", "operator");
  addOperator("csadmin", "dept_admin", "CS");
  addOperator("cshead", "dept_head", "CS");
  const [from, to] = leaveDates();
  const year = from.slice(0, 4);
  ctlAs("csadmin", STAFF_PW, "attendance", "balance-set", "T1", "annual", "5", "--year", year);
  const leave = ctlAs("csadmin", STAFF_PW, "attendance", "leave-apply", "T1", "annual", from, to,
                      "--reason", "探亲");
  log(`campus ready: terminal port ${termPort}, leave #${leave.id} (${leave.days} days)`);

  // ---- ykt-web ----
  const web = await startProc(YKTWEB, ["-l", "127.0.0.1:0", "-s", sock, "-r", path.join(SOURCE, "web")],
                              "ykt-web.log", /listening on (http:\/\/[^/]+)\//);
  const base = web.match[1];
  log(`ykt-web at ${base}`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  try {
    await scenarios(browser, base, { termPort, posSecret, s1, leave, year });
  } finally {
    await browser.close();
  }

  const webRc = await stopProc(web.proc);
  await check("ykt-web stops cleanly on SIGTERM", async () => eq(webRc, 0, "ykt-web exit status"));
  await check("the ledger audits clean", async () => {
    const rows = ctl("audit");
    const bad = rows.filter(r => r.result !== "ok");
    eq(bad, [], "audit violations");
  });
  const yktdRc = await stopProc(yktd.proc);
  await check("yktd stops cleanly", async () => eq(yktdRc, 0, "yktd exit status"));
  log(`browser test took ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
}

async function newPage(browser, base) {
  const context = await browser.newContext({ baseURL: base, locale: "zh-CN",
                                             viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  return { context, page };
}

async function signIn(page, kind, login, password) {
  await page.goto("/");
  if (kind === "staff") await page.click("#tab-staff");
  await page.fill("#login", login);
  await page.fill("#password", password);
  await page.click("#signin");
}

// fetch() from inside the page, so the browser's own cookie goes along.
function pageFetch(page, method, url, body, headers) {
  return page.evaluate(async ([m, u, b, h]) => {
    const r = await fetch(u, { method: m, headers: h || {}, credentials: "same-origin",
                               body: b === null ? undefined : JSON.stringify(b) });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data };
  }, [method, url, body === undefined ? null : body, headers]);
}

async function scenarios(browser, base, env) {
  const { termPort, posSecret, s1, leave, year } = env;
  const holder = await newPage(browser, base);
  const hp = holder.page;
  let balance = 100;
  let newQuery = "135790";

  await check("the sign-in page is in Chinese first and switches to English", async () => {
    await hp.goto("/");
    eq(await hp.textContent("#signin"), "登录", "button text");
    await shot(hp, "01-login");
    await hp.selectOption("#lang", "en");
    eq(await hp.textContent("#signin"), "Sign in", "English button text");
    await shot(hp, "01-login-en");
    await hp.selectOption("#lang", "zh-CN");
  });

  await check("a wrong query password is refused", async () => {
    await signIn(hp, "holder", "S1", "000000");
    await hp.waitForSelector("#login-msg.error");
    assert((await hp.textContent("#login-msg")).includes("密码错误"), "error shown");
  });

  await check("a cross-site sign-in POST is refused", async () => {
    const r = await holder.context.request.post(base + "/api/login", {
      headers: { Origin: "http://evil.example", "Content-Type": "application/json" },
      data: { kind: "holder", login: "S1", password: s1.initial_query_password } });
    eq(r.status(), 403, "status");
  });

  await check("a holder signs in with the card number and sees the balance", async () => {
    // The wrong try above counted one failure; this one clears the count.
    await signIn(hp, "holder", s1.card_no, s1.initial_query_password);
    await hp.waitForURL("**/holder.html");
    await hp.waitForFunction(() => document.getElementById("balance").textContent !== "—");
    eq(await hp.textContent("#balance"), "100.00", "balance");
    eq(await hp.getAttribute("#card-status .status", "data-status"), "active", "card status");
    const person = await hp.textContent("#person");
    assert(person.includes("110***********0019"), "ID number masked: " + person);
    assert(person.includes("138****5678"), "phone masked: " + person);
    assert(!person.includes("110105200503070019"), "no clear ID number");
    const cookies = await holder.context.cookies();
    const sid = cookies.find(c => c.name === "ykt_sid");
    assert(sid && sid.httpOnly && sid.sameSite === "Strict", "HttpOnly SameSite=Strict cookie");
    eq(await hp.evaluate(() => document.cookie), "", "cookie invisible to scripts");
    eq(await hp.evaluate(() => Object.keys(localStorage)), ["ykt-lang"], "localStorage keys");
  });

  await check("the card pays before it is reported lost", async () => {
    const r = pay(termPort, "POS-1", posSecret, s1.uid, 500, 1, 1);
    assert(r.reply, "paid: " + JSON.stringify(r));
    balance = r.reply[2] / 100;
    await hp.reload();
    await hp.waitForFunction(() => document.querySelectorAll("#records tbody tr").length >= 2);
    eq(await hp.textContent("#balance"), balance.toFixed(2), "balance after paying");
    await shot(hp, "02-holder-home");
  });

  await check("wrong role: a holder gets 403 from staff pages and APIs", async () => {
    for (const url of ["/counter.html", "/head.html", "/staff.html"]) {
      const resp = await hp.goto(url);
      eq(resp.status(), 403, url);
    }
    await shot(hp, "07-forbidden");
    await hp.goto("/holder.html");
    eq((await pageFetch(hp, "GET", "/api/counter/person?no=S1")).status, 403, "counter API");
    eq((await pageFetch(hp, "GET", "/api/head/leaves")).status, 403, "head API");
  });

  await check("a POST without the CSRF token is refused with 403", async () => {
    const r = await pageFetch(hp, "POST", "/api/holder/report-loss",
                              { password: s1.initial_query_password },
                              { "Content-Type": "application/json" });
    eq(r.status, 403, "status");
    eq(r.data.error, "CSRF", "code");
    const wrong = await pageFetch(hp, "POST", "/api/holder/report-loss",
                                  { password: s1.initial_query_password },
                                  { "Content-Type": "application/json", "X-CSRF-Token": "0".repeat(64) });
    eq(wrong.status, 403, "wrong token");
    const card = ctl("card", "show", s1.card_no);
    eq(card.status, "active", "the card is untouched");
  });

  await check("the holder changes the query password and signs in with the new one", async () => {
    await hp.goto("/holder.html");
    await hp.waitForFunction(() => document.getElementById("balance").textContent !== "—");
    await hp.selectOption("#pw-which", "query");
    await hp.fill("#pw-old", s1.initial_query_password);
    await hp.fill("#pw-new", newQuery);
    await hp.fill("#pw-new2", newQuery);
    await hp.click("#pw-go");
    await hp.waitForSelector("#pw-msg.ok");
    await hp.click("#logout");
    await hp.waitForURL(base + "/");
    eq((await pageFetch(hp, "GET", "/api/holder/home")).status, 401, "signed out");
    await signIn(hp, "holder", "S1", newQuery);
    await hp.waitForURL("**/holder.html");
  });

  await check("the holder reports the card lost; a PAY is then refused", async () => {
    await hp.waitForFunction(() => document.getElementById("balance").textContent !== "—");
    await hp.fill("#loss-password", newQuery);
    await hp.click("#loss-go");
    await hp.waitForSelector("#loss-msg.ok");
    await hp.waitForSelector('#card-status .status[data-status="lost"]');
    await shot(hp, "03-holder-lost");
    eq(ctl("card", "show", s1.card_no).status, "lost", "card status in yktd");
    const r = pay(termPort, "POS-1", posSecret, s1.uid, 300, 2, 2);
    assert(r.error && r.error.startsWith("CARD_LOST"), "PAY refused: " + JSON.stringify(r));
    const audit = ctl("audit", "list", "--target", s1.card_no);
    assert(audit.some(a => a.action === "card.loss" && a.operator === "holder:S1"), "audited");
  });
  await holder.context.close();

  // ---- the department head ----
  const head = await newPage(browser, base);
  const dp = head.page;
  await check("a department head approves a leave and the leave-day balance drops", async () => {
    await signIn(dp, "staff", "cshead", STAFF_PW);
    await dp.waitForURL("**/head.html");
    await dp.waitForSelector(`#approve-${leave.id}`);
    await dp.waitForSelector("#balances tbody tr");
    const before = ctl("attendance", "balances", "T1", "--year", year).find(b => b.type === "annual");
    eq([before.used, before.pending], [0, leave.days], "before");
    await shot(dp, "04-head-pending");
    await dp.fill(`#note-${leave.id}`, "同意");
    await dp.click(`#approve-${leave.id}`);
    await dp.waitForSelector("#leave-msg.ok");
    const after = ctl("attendance", "balances", "T1", "--year", year).find(b => b.type === "annual");
    eq([after.used, after.pending, after.left], [leave.days, 0, 5 - leave.days], "after");
    await dp.waitForFunction(
      used => [...document.querySelectorAll("#balances tbody tr")].some(
        tr => tr.cells[0].textContent === "annual" && tr.cells[2].textContent === String(used)),
      leave.days);
    await shot(dp, "05-head-approved");
    eq(ctl("attendance", "leaves", "--person", "T1")[0].status, "approved", "leave status");
  });
  await check("wrong role: a department head gets 403 at the counter", async () => {
    eq((await dp.goto("/counter.html")).status(), 403, "page");
    await dp.goto("/head.html");
    const csrf = (await pageFetch(dp, "GET", "/api/session")).data.csrf;
    const r = await pageFetch(dp, "POST", "/api/counter/replace",
                              { card: s1.card_no, id_number: "110105200503070019" },
                              { "Content-Type": "application/json", "X-CSRF-Token": csrf });
    eq(r.status, 403, "API");
  });
  await head.context.close();

  // ---- the counter ----
  const counter = await newPage(browser, base);
  const cp = counter.page;
  await check("an operator replaces the card and the balance moves by the fee", async () => {
    await signIn(cp, "staff", "counter1", STAFF_PW);
    await cp.waitForURL("**/counter.html");
    await cp.fill("#find-no", "S1");
    await cp.click("#find-go");
    await cp.waitForSelector("#found:not([hidden])");
    eq(await cp.textContent("#balance"), balance.toFixed(2), "balance before");
    eq(await cp.inputValue("#r-card"), s1.card_no, "the lost card is proposed");
    await shot(cp, "06-counter-person");
    await cp.fill("#r-id", "110105200503070019");
    await cp.selectOption("#r-pay", "wallet");
    await cp.click("#replace-go");
    await cp.waitForSelector("#replace-msg.ok");
    const after = (balance - 10).toFixed(2); // [cards] replacement_fee: 10.00 by default
    await cp.waitForFunction(b => document.getElementById("balance").textContent === b, after);
    await shot(cp, "06-counter-replaced");
    const cards = ctl("card", "list", "--person", "S1");
    eq(cards.map(c => c.status).sort(), ["active", "cancelled"], "old cancelled, new active");
    const acct = ctl("person", "show", "S1");
    eq(acct.balance, after, "balance in yktd");
    const audit = ctl("audit", "list", "--target", s1.card_no);
    assert(audit.some(a => a.action === "card.replace" && a.operator === "counter1"),
           "audited under the operator's own name");
  });
  await check("a wrong ID number is refused at the counter", async () => {
    const live = ctl("card", "list", "--person", "S1").find(c => c.status === "active");
    await cp.fill("#r-card", live.card_no);
    await cp.fill("#r-id", "110105198001010024");
    await cp.click("#replace-go");
    await cp.waitForSelector("#replace-msg.error");
    assert((await cp.textContent("#replace-msg")).includes("ID_MISMATCH") ||
           (await cp.textContent("#replace-msg")).includes("证件号"), "ID mismatch shown");
  });
  await check("wrong role: an operator gets 403 from the head's page and APIs", async () => {
    eq((await cp.goto("/head.html")).status(), 403, "page");
    eq((await cp.goto("/holder.html")).status(), 403, "holder page");
    await cp.goto("/counter.html");
    eq((await pageFetch(cp, "GET", "/api/head/leaves")).status, 403, "API");
  });
  await check("signed out, pages send the browser to sign in and APIs answer 401", async () => {
    await cp.click("#logout");
    await cp.waitForURL(base + "/");
    const r = await cp.goto("/counter.html");
    eq(new URL(r.url()).pathname, "/", "redirected to sign-in");
    eq((await pageFetch(cp, "GET", "/api/counter/person?no=S1")).status, 401, "API");
  });
  await counter.context.close();
}

main().catch(e => {
  results.push(["setup", false]);
  log("FAIL setup: " + (e && e.stack ? e.stack : e));
}).finally(async () => {
  for (const p of procs) await stopProc(p);
  const passed = results.filter(r => r[1]).length, failed = results.length - passed;
  if (failed === 0 && !process.env.YKT_WEB_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  else log(`logs kept in ${dir}`);
  log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
});
