// PicTrace: the little JavaScript the pages use. Everything works without it, only less smoothly.

// Drop zones: drop a file onto the zone (or pick one) and see what was chosen.
for (const zone of document.querySelectorAll("[data-drop]")) {
  const input = zone.querySelector("input[type=file]");
  const preview = zone.querySelector(".drop-preview");
  const text = zone.querySelector(".drop-text");
  const show = () => {
    const files = input.files;
    if (!files || !files.length) return;
    text.textContent = files.length > 1 ? `${files.length} files chosen` : files[0].name;
    if (preview && files[0].type.startsWith("image/")) {
      preview.src = URL.createObjectURL(files[0]);
      preview.hidden = false;
    }
  };
  input.addEventListener("change", show);
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.remove("over"); });
  }
  zone.addEventListener("drop", (event) => {
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      show();
    }
  });
}

// Forms that take a while say so on their button instead of looking frozen.
for (const form of document.querySelectorAll("form[data-busy]")) {
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[type=submit]:not(.plain)");
    if (button) {
      setTimeout(() => { button.disabled = true; button.textContent = form.dataset.busy; }, 0);
    }
  });
}

// "Back" links go back in history (results pages are answers to a POST).
for (const link of document.querySelectorAll("[data-back]")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    if (history.length > 1) history.back(); else location.href = "/";
  });
}

// Live job progress: poll the job and update the counters and the bar.
const job = document.querySelector("[data-job]");
if (job && (job.dataset.state === "queued" || job.dataset.state === "running")) {
  const bar = job.querySelector("progress");
  const pick = (data, path) => path.split(".").reduce((o, k) => (o == null ? o : o[k]), data);
  const poll = async () => {
    let data;
    try {
      const answer = await fetch(`/api/jobs/${job.dataset.job}`, { headers: { Accept: "application/json" } });
      // A job the server no longer knows (it restarted): the page says so once reloaded.
      // Busy or shutting down (503, 500): ask again a little later.
      if (answer.status === 404) { location.reload(); return; }
      if (!answer.ok) { setTimeout(poll, 2000); return; }
      data = await answer.json();
    } catch (error) {
      setTimeout(poll, 2000);
      return;
    }
    for (const el of job.querySelectorAll("[data-field]")) {
      const value = pick(data, el.dataset.field);
      if (value != null) { el.textContent = value; el.hidden = false; }
    }
    if (bar && data.total > 0) { bar.max = data.total; bar.value = data.done; }
    // A page that shows a job's result reloads once it is done; on failure it shows the
    // error instead (reloading would start the job again).
    const reloadOn = job.dataset.reload ? [job.dataset.reload] : ["done", "failed"];
    const over = data.state === "done" || data.state === "failed";
    if (reloadOn.includes(data.state)) { location.reload(); return; }
    if (!over) { setTimeout(poll, 700); return; }
    job.dataset.state = data.state;
    if (bar) bar.hidden = true;
    for (const el of document.querySelectorAll("[data-show]")) el.hidden = el.dataset.show !== data.state;
  };
  setTimeout(poll, 400);
}
