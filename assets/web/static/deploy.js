// Live availability and price on the deploy form: asks the quote API (with
// the session cookie) whenever a field changes. Plain browser JavaScript.
(function () {
  const form = document.getElementById("deploy-form");
  if (!form) return;
  const status = document.getElementById("quote-status");
  const table = document.getElementById("quote-devices");
  const total = document.getElementById("quote-total");
  const usd = (m) => "$" + (m / 1e6).toFixed(m < 1e6 ? 6 : 2);
  let timer = null, seq = 0;
  function request() {
    const f = new FormData(form);
    const num = (k) => parseInt(f.get(k) || "0", 10) || 0;
    return {
      gpu_model: (f.get("gpu_model") || "").trim(), gpus: num("gpus"), hours: num("hours"),
      min_vram_gib: num("min_vram_gib"), min_down_mbps: num("min_down_mbps"),
      region: f.get("region") || "", verified_only: f.get("verified_only") === "on",
    };
  }
  async function quote() {
    const mine = ++seq;
    status.textContent = "Checking the live supply…";
    try {
      const r = await fetch("/api/v1/clusters/quote", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(request()),
      });
      const body = await r.json();
      if (mine !== seq) return; // a newer answer is on its way
      const tbody = table.querySelector("tbody");
      tbody.replaceChildren();
      if (!r.ok) {
        table.hidden = true;
        total.textContent = "";
        status.textContent = body.error ? body.error.message : "No quote: " + r.status;
        status.className = "error";
        return;
      }
      for (const d of body.devices) {
        const tr = document.createElement("tr");
        for (const v of [d.gpus + "× " + d.gpu_model, d.region || "—", d.tier || "unrated", usd(d.price_per_gpu_hour)]) {
          const td = document.createElement("td");
          td.textContent = v;
          tr.appendChild(td);
        }
        tbody.appendChild(tr);
      }
      table.hidden = false;
      status.className = "muted";
      status.textContent = body.matching_devices + " matching device(s) online, " + body.busy_devices + " busy.";
      total.textContent = usd(body.price_per_hour) + " per hour · " + usd(body.total) + " for " + body.hours + " h" +
        (body.affordable ? "" : " — " + body.shortfall);
      total.className = body.affordable ? "" : "error";
    } catch (e) {
      if (mine === seq) status.textContent = "The price could not be checked; it will be when you deploy.";
    }
  }
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(quote, 300); });
  form.addEventListener("submit", () => { document.getElementById("deploy-button").disabled = true; });
  quote();
})();
