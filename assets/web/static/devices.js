// Keeps the device table's states live by polling the JSON API with the
// session cookie. No build step: plain browser JavaScript.
(function () {
  const table = document.getElementById("devices");
  if (!table) return;
  function ago(iso) {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    return Math.round(s / 3600) + " h ago";
  }
  async function refresh() {
    try {
      const r = await fetch("/api/v1/devices", { credentials: "same-origin" });
      if (!r.ok) return;
      const body = await r.json();
      for (const d of body.devices) {
        const row = table.querySelector('tr[data-id="' + d.id + '"]');
        if (!row) continue;
        const st = row.querySelector(".state");
        st.textContent = d.state;
        st.className = "state state-" + d.state;
        row.querySelector(".seen").textContent = ago(d.last_seen_at);
      }
    } catch (e) { /* offline for a moment; try again next tick */ }
  }
  setInterval(refresh, 3000);
})();
