// The live alarm list: a page of the active alarms from the TMF642 API, every two seconds. The
// database filters and pages them (X-Total-Count: how many match); the filters and the page are
// in the address, so a link or a reload shows the same list.
(() => {
  const body = document.querySelector("#alarms tbody");
  const canAck = document.getElementById("alarms").dataset.canAck === "yes";
  const form = document.getElementById("ack-form");
  const pager = document.getElementById("alarm-pager");
  const limit = parseInt(pager.dataset.limit, 10) || 100;
  let offset = parseInt(pager.dataset.offset, 10) || 0;
  let total = 0;
  const cell = (text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; };
  function filters() {
    const params = new URLSearchParams();
    if (document.getElementById("roots").checked) params.set("isRootCause", "true");
    for (const [id, name] of [["severity", "perceivedSeverity"], ["device", "device"], ["q", "q"]]) {
      const value = document.getElementById(id).value.trim();
      if (value) params.set(name, value);
    }
    return params;
  }
  async function refresh() {
    const shown = filters();
    if (offset) shown.set("offset", String(offset));
    history.replaceState(null, "", shown.toString() ? `?${shown}` : location.pathname);
    const params = new URLSearchParams(shown);
    params.set("state", "active");
    params.set("limit", String(limit));
    const resp = await fetch(`/tmf-api/alarmManagement/v4/alarm?${params}`);
    if (!resp.ok) { document.getElementById("updated").textContent = `error ${resp.status}`; return; }
    total = parseInt(resp.headers.get("X-Total-Count"), 10) || 0;
    const alarms = await resp.json();
    body.replaceChildren(...alarms.map((a) => {
      const tr = document.createElement("tr");
      tr.className = `severity-${a.perceivedSeverity}${a.isRootCause ? " root" : ""}`;
      tr.appendChild(cell(a.id));
      tr.appendChild(cell(a.perceivedSeverity, `severity-${a.perceivedSeverity}`));
      tr.appendChild(cell(a.alarmedObject.name));
      tr.appendChild(cell((a.isRootCause ? "" : "↳ ") + a.specificProblem + (a.netoss.flapping ? " (flapping)" : "")));
      tr.appendChild(cell(a.alarmRaisedTime.slice(0, 19).replace("T", " ")));
      tr.appendChild(cell(`${a.netoss.occurrences}×`));
      tr.appendChild(cell(a.netoss.correlation || ""));
      const ticket = document.createElement("td");
      if (a.netoss.ticket) {
        const link = document.createElement("a");
        link.href = `/tickets/${parseInt(a.netoss.ticket.slice(3), 10)}`; link.textContent = a.netoss.ticket;
        ticket.appendChild(link);
      }
      tr.appendChild(ticket);
      const ack = document.createElement("td");
      if (a.ackState === "acknowledged") ack.textContent = `by ${a.ackUserId}`;
      else if (canAck) {
        const button = document.createElement("button"); button.textContent = "Acknowledge";
        button.addEventListener("click", () => { form.action = `/alarms/${a.id}/ack`; form.submit(); });
        ack.appendChild(button);
      }
      tr.appendChild(ack);
      return tr;
    }));
    const first = alarms.length ? offset + 1 : 0;
    document.getElementById("alarm-count").textContent = `${first}-${offset + alarms.length} of ${total}`;
    document.getElementById("alarm-prev").disabled = offset === 0;
    document.getElementById("alarm-next").disabled = offset + limit >= total;
    document.getElementById("updated").textContent = `${total} active · updated ${new Date().toLocaleTimeString()}`;
  }
  document.getElementById("alarm-filters").addEventListener("submit", (e) => { e.preventDefault(); offset = 0; refresh(); });
  for (const id of ["roots", "severity", "device", "q"]) {
    document.getElementById(id).addEventListener("change", () => { offset = 0; refresh(); });
  }
  document.getElementById("alarm-prev").addEventListener("click", () => { offset = Math.max(offset - limit, 0); refresh(); });
  document.getElementById("alarm-next").addEventListener("click", () => { offset += limit; refresh(); });
  refresh();
  setInterval(refresh, 2000);
})();
