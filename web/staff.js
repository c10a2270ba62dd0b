// Any staff account: change one's own password (a new operator must, before anything else).
"use strict";
(async () => {
  const s = await YKT.start(["staff"]);
  if (!s) return;
  document.getElementById("must").hidden = !s.must_change_password;
  document.getElementById("spw-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = id => document.getElementById(id);
    const msg = f("spw-msg");
    if (f("spw-new").value !== f("spw-new2").value) {
      YKT.message(msg, YKT.t("pw_mismatch"), false);
      return;
    }
    const r = await YKT.api("POST", "/api/staff/password", { old: f("spw-old").value, new: f("spw-new").value });
    ["spw-old", "spw-new", "spw-new2"].forEach(id => { f(id).value = ""; });
    if (r.status === 200) {
      YKT.message(msg, YKT.t("pw_done"), true);
      f("must").hidden = true;
    } else {
      YKT.message(msg, YKT.errorText(r), false);
    }
  });
})();
