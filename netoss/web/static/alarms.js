// The live alarm list: the active alarms from the TMF642 API, every two seconds.
(() => {
  const body = document.querySelector("#alarms tbody");
  const canAck = document.getElementById("alarms").dataset.canAck === "yes";
  const form = document.getElementById("ack-form");
  const cell = (text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; };
  async function refresh() {
    const params = new URLSearchParams({ state: "active", limit: "1000" });
    if (document.getElementById("roots").checked) params.set("isRootCause", "true");
    const device = document.getElementById("device").value.trim();
    if (device) params.set("device", device);
    const resp = await fetch(`/tmf-api/alarmManagement/v4/alarm?${params}`);
    if (!resp.ok) { document.getElementById("updated").textContent = `error ${resp.status}`; return; }
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
    document.getElementById("updated").textContent = `${alarms.length} active · updated ${new Date().toLocaleTimeString()}`;
  }
  for (const id of ["roots", "device"]) document.getElementById(id).addEventListener("change", refresh);
  refresh();
  setInterval(refresh, 2000);
})();
