// The card centre's counter: find a cardholder, replace a card (fee, or a recorded defect).
"use strict";
(async () => {
  if (!await YKT.start(["operator", "superuser"])) return;
  let found = null;

  function render() {
    if (!found) return;
    document.getElementById("found").hidden = false;
    const p = found.person, body = document.getElementById("person");
    body.replaceChildren();
    [["person_no", p.person_no], ["name", p.name], ["kind", p.kind], ["department", p.department],
     ["id_number", p.id_number], ["phone", p.phone], ["valid_until", p.valid_until],
     ["status", p.status]].forEach(([k, v]) => {
      const tr = YKT.el("tr");
      tr.appendChild(YKT.el("th", YKT.t(k)));
      tr.appendChild(YKT.el("td", v));
      body.appendChild(tr);
    });
    document.getElementById("balance").textContent = found.balance;
    YKT.table(document.getElementById("cards"), found.cards, [
      { key: "card_no", label: "card_no" }, { key: "medium", label: "medium" },
      { key: "type", label: "type" }, { key: "status", label: "status", badge: true },
      { key: "valid_until", label: "valid_until" }]);
    const live = (found.cards || []).find(c => c.medium === "card" && c.status !== "cancelled");
    const rc = document.getElementById("r-card");
    if (live && !rc.value) rc.value = live.card_no;
  }

  async function find(no) {
    const r = await YKT.api("GET", "/api/counter/person?no=" + encodeURIComponent(no));
    const msg = document.getElementById("find-msg");
    if (r.status === 200) { found = r.data; msg.textContent = ""; render(); }
    else { found = null; document.getElementById("found").hidden = true;
           YKT.message(msg, YKT.errorText(r), false); }
  }
  document.addEventListener("ykt-lang", render);

  document.getElementById("find-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    document.getElementById("r-card").value = "";
    document.getElementById("replace-msg").textContent = "";
    await find(document.getElementById("find-no").value.trim());
  });

  document.getElementById("replace-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = id => document.getElementById(id);
    const body = { card: f("r-card").value.trim(), id_number: f("r-id").value.trim(),
                   pay: f("r-pay").value };
    if (f("r-defect").value.trim()) body.defect = f("r-defect").value.trim();
    const r = await YKT.api("POST", "/api/counter/replace", body);
    f("r-id").value = "";
    const msg = f("replace-msg");
    if (r.status === 200) {
      YKT.message(msg, YKT.t("new_card") + " " + r.data.card_no + " · " + YKT.t("fee") + " " +
                  r.data.fee + " · " + YKT.t("balance") + " " + r.data.balance, true);
      f("r-card").value = "";
      const keep = msg.textContent;
      await find(found.person.person_no);
      YKT.message(msg, keep, true);
    } else {
      YKT.message(msg, YKT.errorText(r), false);
    }
  });

  // ---- card actions with the ID check, extension, issue, refunds, own audit ----
  const refresh = () => found && find(found.person.person_no);
  let payments = [];
  async function loadPayments() {
    if (!found) return;
    const r = await YKT.api("GET", "/api/counter/payments?person=" +
                            encodeURIComponent(found.person.person_no));
    payments = r.status === 200 ? r.data : [];
    YKT.table(document.getElementById("payments"), payments, [
      { key: "payment", label: "payment_no" },
      { key: "at", label: "at", fmt: v => (v || "").replace("T", " ").replace("Z", " UTC") },
      { key: "merchant", label: "merchant" }, { key: "charged", label: "amount", num: true },
      { key: "refunded", label: "refunded", num: true }]);
  }
  document.getElementById("find-form").addEventListener("submit", () => setTimeout(loadPayments, 300));
  document.getElementById("act-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const what = YKT.v("a-action");
    const body = { card: YKT.v("a-card"), id_number: YKT.v("a-id") };
    if (what === "cancel") body.reason = YKT.v("a-reason");
    const r = await YKT.api("POST", "/api/counter/" + what, body);
    document.getElementById("a-id").value = "";
    const msg = document.getElementById("act-msg");
    if (r.status === 200) {
      const keep = YKT.t("done") + (r.data.refund ? " · " + YKT.t("refunded") + " " + r.data.refund : "");
      await refresh(); YKT.message(msg, keep, true);
    } else YKT.message(msg, YKT.errorText(r), false);
  });
  YKT.form("ext-form", "/api/counter/extend", () => ({ card: YKT.v("e-card"),
    until: YKT.v("e-until"), proof: YKT.v("e-proof") }), () => { refresh(); });
  YKT.form("iss-form", "/api/counter/issue", () => found ? { person: found.person.person_no }
    : YKT.t("find_person"), d => { refresh();
      return YKT.t("new_card") + " " + d.card_no + " · " + YKT.t("initial_pw") + " " +
        [d.initial_query_password, d.initial_pay_password].filter(Boolean).join(" / "); });
  YKT.form("ar-form", "/api/counter/account-refund", () => found ? { person: found.person.person_no,
    id_number: YKT.v("ar-id") } : YKT.t("find_person"), () => { document.getElementById("ar-id").value = ""; refresh(); });
  YKT.form("pr-form", "/api/counter/payment-refund", () => ({
    payment: Number(YKT.v("pr-payment")), amount: YKT.v("pr-amount"), reason: YKT.v("pr-reason") }),
    d => { refresh(); loadPayments(); return YKT.t("refunded") + " " + d.amount + " · " + YKT.t("balance") + " " + d.balance; });
  document.getElementById("audit-go").addEventListener("click", async () => {
    const r = await YKT.api("GET", "/api/counter/audit?hours=24");
    YKT.table(document.getElementById("audit"), r.status === 200 ? r.data : [], [
      { key: "at", label: "at" }, { key: "action", label: "action" },
      { key: "target", label: "target" }, { key: "detail", label: "memo" }]);
  });
})();
