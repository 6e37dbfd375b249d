/* doclib: several files per upload, each with its own description,
   progress and report.  Without this script the upload form still sends
   several files (one description for all) and lists their reports on
   /curate/uploads.  With it, each chosen or dropped file gets its own
   fields (title, type, access, language, event, workshop; copied from the
   form's description, which stays the default for the files not changed by
   hand), is sent on its own to /curate/upload (JSON answer, the session's
   CSRF token in X-CSRF-Token), shows its progress, then its report as the
   server renders it (/curate/jobs/<id>/report), in the page's language.
   Every text comes from the page (data-* attributes and the labels). */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var input = document.getElementById("f-file");
  var zone = document.getElementById("dropzone");
  var list = document.getElementById("upfiles");
  var button = document.getElementById("upload-button");
  var forAll = document.getElementById("for-all");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var msg = form.dataset;
  var max = parseInt(msg.max, 10) || 100;
  var PER_FILE = ["title", "type", "access", "language", "event", "workshop"];
  var SHARED = ["notes", "date"];  // the form's, for every file
  var UNFINISHED = ["queued", "processing", "cancelling"];
  var DONE = ["ready", "unchanged", "updated"];
  var items = [];
  var counter = 0;
  var sending = false;

  form.noValidate = true;  // the script checks each file's own fields
  input.required = false;  // the list below holds the files

  function shared(name) { return document.getElementById("f-" + name); }

  function size(bytes) {
    var mb = bytes >= 1048576;
    try {
      return new Intl.NumberFormat(document.documentElement.lang || undefined, {
        style: "unit", unit: mb ? "megabyte" : "kilobyte", maximumFractionDigits: 1
      }).format(mb ? bytes / 1048576 : Math.max(bytes / 1024, 0.1));
    } catch (e) {
      return (mb ? (bytes / 1048576).toFixed(1) + " MB" : Math.ceil(bytes / 1024) + " kB");
    }
  }

  function makeField(item, name) {
    var src = shared(name);
    var id = "uf" + item.n + "-" + name;
    var wrap = document.createElement("div");
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = document.querySelector("label[for='f-" + name + "']").textContent;
    var el = src.cloneNode(true);  // the same options, in the page's language
    el.id = id;
    el.removeAttribute("name");
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
    el.value = src.value;
    el.required = name === "type";
    el.dataset.field = name;
    el.addEventListener("input", function () { el.dataset.touched = "1"; unmark(el); });
    el.addEventListener("change", function () { el.dataset.touched = "1"; unmark(el); });
    wrap.appendChild(label);
    wrap.appendChild(el);
    item.fields[name] = el;
    return wrap;
  }

  function unmark(el) { el.removeAttribute("aria-invalid"); }

  function setState(item, text, kind) {
    item.state.textContent = text;
    item.state.className = "state " + (kind || "muted");
  }

  function add(files) {
    for (var i = 0; i < files.length && items.length < max; i++) {
      var item = { n: ++counter, file: files[i], fields: {}, status: "new" };
      var li = document.createElement("li");
      li.className = "upfile";
      var head = document.createElement("div");
      head.className = "head";
      var name = document.createElement("bdi");
      name.className = "name";
      name.textContent = item.file.name;
      var meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = size(item.file.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "small secondary";
      remove.textContent = msg.remove;
      remove.setAttribute("aria-label", msg.remove + ": " + item.file.name);
      remove.addEventListener("click", removeItem.bind(null, item));
      head.appendChild(name);
      head.appendChild(meta);
      head.appendChild(remove);
      var fields = document.createElement("div");
      fields.className = "fields";
      PER_FILE.forEach(function (f) { fields.appendChild(makeField(item, f)); });
      var progress = document.createElement("progress");
      progress.max = 100;
      progress.value = 0;
      progress.hidden = true;
      progress.setAttribute("aria-label", item.file.name);
      var state = document.createElement("p");
      state.setAttribute("role", "status");
      var report = document.createElement("div");
      report.className = "report-slot";
      report.setAttribute("aria-live", "polite");
      li.appendChild(head);
      li.appendChild(fields);
      li.appendChild(progress);
      li.appendChild(state);
      li.appendChild(report);
      item.li = li; item.remove = remove; item.progress = progress;
      item.state = state; item.report = report;
      setState(item, msg.waiting);
      list.appendChild(li);
      items.push(item);
    }
    input.value = "";
    refresh();
  }

  function removeItem(item) {
    items = items.filter(function (i) { return i !== item; });
    item.li.remove();
    refresh();
  }

  function refresh() {
    list.hidden = items.length === 0;
    if (forAll) forAll.textContent = items.length ? msg.forAll : forAll.dataset.plain;
    button.textContent = items.length ? msg.sendN : button.dataset.plain;
  }

  // the form's description: the default of every file not changed by hand
  PER_FILE.forEach(function (name) {
    var src = shared(name);
    function follow() {
      items.forEach(function (item) {
        var el = item.fields[name];
        if (item.status === "new" && !el.dataset.touched) el.value = src.value;
      });
    }
    src.addEventListener("change", follow);
    src.addEventListener("input", follow);
  });

  function fail(item, text) {
    item.status = "failed";
    item.li.classList.add("failed");
    item.progress.hidden = true;
    item.remove.hidden = false;
    PER_FILE.forEach(function (f) { item.fields[f].disabled = false; });
    setState(item, text, "error");
    var field = /^([a-z]+):/.exec(text);
    if (field && item.fields[field[1]]) item.fields[field[1]].setAttribute("aria-invalid", "true");
  }

  function poll(item, url) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.onload = function () {
      if (xhr.status !== 200) { fail(item, msg.failed + " (" + xhr.status + ")"); return; }
      item.report.innerHTML = xhr.responseText;  // rendered and escaped by the server
      var report = item.report.querySelector(".report");
      var status = report ? report.dataset.status : "";
      if (UNFINISHED.indexOf(status) >= 0) {
        setTimeout(function () { poll(item, url); }, 1000);
        return;
      }
      item.status = "finished";
      item.state.textContent = "";
      item.li.classList.add(DONE.indexOf(status) >= 0 ? "done" : "failed");
    };
    xhr.onerror = function () { setTimeout(function () { poll(item, url); }, 3000); };
    xhr.send();
  }

  function send(item, done) {
    var data = new FormData();
    data.append("csrf_token", csrf);
    data.append("file", item.file, item.file.name);
    PER_FILE.forEach(function (f) {
      var v = item.fields[f].value;
      if (v) data.append(f, v);
    });
    SHARED.forEach(function (f) {
      var v = shared(f).value;
      if (v) data.append(f, v);
    });
    item.status = "sending";
    item.li.classList.remove("failed");
    item.remove.hidden = true;
    PER_FILE.forEach(function (f) { item.fields[f].disabled = true; });
    item.progress.hidden = false;
    item.progress.value = 0;
    setState(item, msg.sending);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) item.progress.value = Math.round(100 * e.loaded / e.total);
    };
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 202 && body && body.ok) {
        item.status = "sent";
        item.progress.value = 100;
        setState(item, msg.sent);
        poll(item, body.report_url);
      } else {
        fail(item, body && body.error ? body.error : msg.failed + " (" + xhr.status + ")");
      }
      done();
    };
    xhr.onerror = function () { fail(item, msg.failed); done(); };
    xhr.send(data);
  }

  form.addEventListener("submit", function (ev) {
    if (!items.length) return;  // nothing listed: the form as it is (the server asks for a file)
    ev.preventDefault();
    if (sending) return;
    var pending = items.filter(function (i) { return i.status === "new" || i.status === "failed"; });
    var missing = pending.filter(function (i) { return !i.fields.type.value; });
    if (missing.length) {  // no type by default: each file's must be chosen
      missing.forEach(function (i) {
        i.fields.type.setAttribute("aria-invalid", "true");
        setState(i, msg.noType, "error");
      });
      missing[0].fields.type.focus();
      return;
    }
    sending = true;
    button.disabled = true;
    (function next(k) {
      if (k >= pending.length) { sending = false; button.disabled = false; return; }
      send(pending[k], function () { next(k + 1); });
    })(0);
  });

  if (forAll) forAll.dataset.plain = forAll.textContent;
  button.dataset.plain = button.textContent;
  input.addEventListener("change", function () { add(input.files); });
  ["dragenter", "dragover"].forEach(function (t) {
    zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    zone.addEventListener(t, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) add(e.dataTransfer.files);
  });
})();
