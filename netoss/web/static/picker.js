// The launch form's device picker: NetBox's devices searched on the server (/api/v1/devices,
// by name, site, role and tag, a page at a time), chosen one by one (hidden inputs named after
// the parameter) or all that match the filters (the form sends the filter; the launch resolves it).
(() => {
  const PAGE = 20;
  for (const picker of document.querySelectorAll(".device-picker")) {
    const param = picker.dataset.param;
    const results = picker.querySelector(".pick-results");
    const chosenBox = picker.querySelector(".pick-chosen");
    const all = picker.querySelector(".pick-all");
    const count = picker.querySelector(".pick-count");
    const prev = picker.querySelector(".pick-prev");
    const next = picker.querySelector(".pick-next");
    const field = (key) => picker.querySelector(`.pick-${key}`);
    let offset = 0, total = 0, timer = null;
    const chosen = () => new Set([...chosenBox.querySelectorAll("input")].map((i) => i.value));

    function choose(name, on) {
      const existing = chosenBox.querySelector(`.chip[data-name="${CSS.escape(name)}"]`);
      if (on && !existing) {
        const chip = document.createElement("span");
        chip.className = "chip"; chip.dataset.name = name; chip.textContent = name;
        const input = document.createElement("input");
        input.type = "hidden"; input.name = param; input.value = name;
        const remove = document.createElement("button");
        remove.type = "button"; remove.className = "chip-remove"; remove.title = `remove ${name}`; remove.textContent = "×";
        chip.append(input, remove);
        chosenBox.appendChild(chip);
      } else if (!on && existing) existing.remove();
    }
    chosenBox.addEventListener("click", (e) => {
      if (!e.target.classList.contains("chip-remove")) return;
      const name = e.target.parentElement.dataset.name;
      e.target.parentElement.remove();
      const box = results.querySelector(`input[value="${CSS.escape(name)}"]`);
      if (box) box.checked = false;
    });

    async function refresh() {
      const params = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
      for (const key of ["q", "site", "role", "tag"]) {
        const value = field(key).value.trim();
        if (value) params.set(key, value);
      }
      const resp = await fetch(`/api/v1/devices?${params}`);
      if (!resp.ok) {
        const body = await resp.json().catch(() => ({}));
        count.textContent = `NetBox could not be searched (${body.error || resp.status})`;
        return;
      }
      total = parseInt(resp.headers.get("X-Total-Count"), 10) || 0;
      const devices = await resp.json();
      const picked = chosen();
      results.replaceChildren(...devices.map((d) => {
        const li = document.createElement("li");
        const label = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox"; box.value = d.name; box.checked = picked.has(d.name); box.disabled = all.checked;
        box.addEventListener("change", () => choose(d.name, box.checked));
        label.append(box, ` ${d.name}`);
        const where = [d.site, d.role].filter(Boolean).join(", ");
        if (where) { const small = document.createElement("small"); small.textContent = ` (${where})`; label.appendChild(small); }
        li.appendChild(label);
        return li;
      }));
      const first = devices.length ? offset + 1 : 0;
      count.textContent = all.checked
        ? `all ${total} matching devices`
        : `${first}-${offset + devices.length} of ${total} matching`;
      prev.disabled = offset === 0;
      next.disabled = offset + PAGE >= total;
    }
    const again = () => { offset = 0; refresh(); };
    field("q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(again, 250); });
    for (const key of ["site", "role", "tag"]) field(key).addEventListener("change", again);
    all.addEventListener("change", () => {
      for (const input of chosenBox.querySelectorAll("input")) input.disabled = all.checked;
      refresh();
    });
    prev.addEventListener("click", () => { offset = Math.max(offset - PAGE, 0); refresh(); });
    next.addEventListener("click", () => { offset += PAGE; refresh(); });
    // A template filter on another parameter ({"site": "{site}"}): the picker follows that field.
    const filter = JSON.parse(picker.dataset.filter || "{}");
    for (const [key, ref] of Object.entries(filter)) {
      const m = /^\{(\w+)\}$/.exec(String(ref));
      const other = m && picker.closest("form").elements[m[1]];
      if (!other || !field(key)) continue;
      const follow = () => { field(key).value = other.value; again(); };
      other.addEventListener("change", follow);
      if (other.value && !field(key).value) field(key).value = other.value;
    }
    for (const input of chosenBox.querySelectorAll("input")) input.disabled = all.checked;
    refresh();
  }
})();
