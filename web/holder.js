// The cardholder's home: balance, card status, recent records, report loss, passwords.
"use strict";
(async () => {
  if (!await YKT.start(["holder"])) return;
  let home = null;

  function render() {
    if (!home) return;
    const p = home.person;
    document.getElementById("balance").textContent = home.balance;
    const card = (home.cards || []).find(c => c.medium === "card" && c.status !== "cancelled") ||
                 (home.cards || [])[0];
    const st = document.getElementById("card-status");
    st.replaceChildren(YKT.badge(card ? card.status : "—"));
    document.getElementById("card-no").textContent = card ? card.card_no : "—";
    document.getElementById("valid-until").textContent = card ? card.valid_until : "—";
    document.getElementById("person").textContent =
      [p.name, p.person_no, p.department, YKT.t("id_number") + " " + p.id_number,
       YKT.t("phone") + " " + p.phone].join(" · ");
    YKT.table(document.getElementById("records"), home.records, [
      { key: "at", label: "at", fmt: v => (v || "").replace("T", " ").replace("Z", " UTC") },
      { key: "kind", label: "what", fmt: v => YKT.tv("k_", v) },
      { key: "amount", label: "amount", num: true },
      { key: "memo", label: "memo" }]);
  }

  async function load() {
    const r = await YKT.api("GET", "/api/holder/home");
    if (r.status === 200) { home = r.data; render(); }
  }
  document.addEventListener("ykt-lang", render);
  await load();

  document.getElementById("loss-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const pw = document.getElementById("loss-password");
    const r = await YKT.api("POST", "/api/holder/report-loss", { password: pw.value });
    pw.value = "";
    const msg = document.getElementById("loss-msg");
    if (r.status === 200) { YKT.message(msg, YKT.t("lost_done"), true); await load(); }
    else YKT.message(msg, YKT.errorText(r), false);
  });

  document.getElementById("pw-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const msg = document.getElementById("pw-msg");
    const f = id => document.getElementById(id);
    if (f("pw-new").value !== f("pw-new2").value) {
      YKT.message(msg, YKT.t("pw_mismatch"), false);
      return;
    }
    const r = await YKT.api("POST", "/api/holder/password",
      { which: f("pw-which").value, old: f("pw-old").value, new: f("pw-new").value });
    ["pw-old", "pw-new", "pw-new2"].forEach(id => { f(id).value = ""; });
    if (r.status === 200) YKT.message(msg, YKT.t("pw_done"), true);
    else YKT.message(msg, YKT.errorText(r), false);
  });
})();
