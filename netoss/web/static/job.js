// The live job page: output from server-sent events, at most KEEP lines in the page (earlier
// ones are paged in on demand), progress and per-host status from /progress.
(function () {
  const KEEP = 2000;
  const out = document.getElementById("output");
  const job = out.dataset.job;
  const api = `/api/v1/jobs/${job}`;
  let first = null;   // seq of the first event shown
  let last = 0;       // seq of the last event shown
  let finished = false;

  function line(e) {
    const div = document.createElement("div");
    div.dataset.seq = e.seq;
    div.textContent = e.stdout;
    return div;
  }

  function append(e) {
    if (!e.stdout) { last = e.seq; return; }
    const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 20;
    out.appendChild(line(e));
    if (first === null) first = e.seq;
    last = e.seq;
    while (out.childElementCount > KEEP) {
      out.removeChild(out.firstChild);
      first = Number(out.firstChild.dataset.seq);
      document.getElementById("earlier").hidden = false;
    }
    if (stick) out.scrollTop = out.scrollHeight;
  }

  async function earlier() {
    const from = Math.max(0, first - 500);
    const rows = await (await fetch(`${api}/events?after=${Math.max(0, from - 1)}&limit=${first - from}`)).json();
    const anchor = out.firstChild;
    for (const e of rows) if (e.stdout && e.seq < first) out.insertBefore(line(e), anchor);
    first = Math.max(1, from);
    document.getElementById("earlier").hidden = first <= 1;
    document.getElementById("shown").textContent = `${out.childElementCount} lines shown`;
  }
  document.getElementById("earlier").addEventListener("click", earlier);

  async function progress() {
    const p = await (await fetch(`${api}/progress`)).json();
    const hosts = Object.entries(p.hosts);
    const bar = document.getElementById("progress");
    const parts = [];
    if (p.tasks_total !== null && p.hosts_total !== null) {
      // Results of every host on every task of its plays: the share of the run that is done.
      const expected = hosts.reduce((n, [, h]) => n + (h.expected || 0), 0);
      const done = hosts.reduce((n, [, h]) => n + (h.finished ? (h.expected || 0) : Math.min(h.done, h.expected || 0)), 0);
      bar.max = Math.max(expected, 1);
      bar.value = finished ? bar.max : done;
      parts.push(`task ${Math.min(p.tasks_started, p.tasks_total)} of ${p.tasks_total}`);
      parts.push(`${p.hosts_finished} of ${p.hosts_total} hosts done`);
    } else {
      bar.max = Math.max(hosts.length, 1);
      bar.value = finished ? bar.max : p.hosts_finished;
      parts.push(`${p.tasks_started} tasks started`, `${p.hosts_finished} of ${hosts.length} hosts done`);
    }
    parts.push(`${p.event_count} events`);
    document.getElementById("progress-text").textContent = parts.join(" · ");
    const body = document.querySelector("#hosts tbody");
    body.replaceChildren(...hosts.map(([name, h]) => {
      const tr = document.createElement("tr");
      for (const v of [name, h.ok, h.failed, h.unreachable, h.skipped, h.state]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      tr.className = `host-${h.state}`;
      return tr;
    }));
    const status = document.getElementById("status");
    status.textContent = p.status;
    status.className = `status-${p.status}`;
  }

  const csrf = document.querySelector("meta[name=csrf-token]").content;
  async function post(action, body) {
    const headers = { "X-CSRFToken": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(`${api}/${action}`, {
      method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await resp.json();
    if (!resp.ok) { alert(answer.error); return null; }
    return answer;
  }
  document.getElementById("cancel").addEventListener("click", () => post("cancel"));
  document.getElementById("relaunch").addEventListener("click", async () => {
    const job = await post("relaunch");
    if (job) window.location = `/jobs/${job.id}`;
  });
  const approve = document.getElementById("approve");
  if (approve) approve.addEventListener("click", async () => {
    if (!confirm("Apply what this check-mode run showed, on the same devices?")) return;
    const job = await post("relaunch", { apply: true });
    if (job) window.location = `/jobs/${job.id}`;
  });

  // A stream lasts a minute at most: the EventSource then resumes by itself (Last-Event-ID).
  // When the server refuses one (503: too many open streams) it closes: open another later.
  function listen() {
    const source = new EventSource(`${api}/stream?after=${last}`);
    source.addEventListener("job-event", (m) => append(JSON.parse(m.data)));
    source.addEventListener("end", async (m) => {
      finished = true;
      source.close();
      await progress();
      document.getElementById("status").textContent = JSON.parse(m.data).status;
      document.getElementById("cancel").hidden = true;
      document.getElementById("artifacts").hidden = false;
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED && !finished) setTimeout(listen, 3000 + Math.random() * 4000);
    });
  }
  listen();
  progress();
  const timer = setInterval(() => { if (finished) clearInterval(timer); else progress(); }, 1000);
})();
