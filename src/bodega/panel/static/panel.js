// Live task progress: listens to the event stream (Server-Sent Events) and moves the progress
// bars of the tasks on the page; when the last live task ends, the page reloads to show results.
(function () {
  "use strict";
  var body = document.body;
  if (!body.hasAttribute("data-live-container") || !window.EventSource) { return; }
  var FINISHED = { succeeded: 1, failed: 1, cancelled: 1 };
  function rows() { return document.querySelectorAll("tr[data-task]"); }
  function live() {
    return Array.prototype.filter.call(rows(), function (r) { return !FINISHED[r.getAttribute("data-status")]; });
  }
  if (live().length === 0) { return; }
  var params = new URLSearchParams();
  params.set("after", body.getAttribute("data-events-after") || "0");
  var container = body.getAttribute("data-live-container");
  if (container) { params.set("container", container); }
  var source = new EventSource("/api/events/stream?" + params.toString());
  function row(taskId) { return document.querySelector('tr[data-task="' + taskId + '"]'); }
  function setProgress(r, percent) {
    var bar = r.querySelector("progress");
    var text = r.querySelector(".percent");
    if (bar && percent >= Number(bar.value)) { bar.value = percent; bar.textContent = percent + "%"; }
    if (text) { text.textContent = percent + "%"; }
  }
  source.onmessage = function (message) {
    var ev = JSON.parse(message.data);
    var ctx = ev.context || {};
    var r = ctx.task_id ? row(ctx.task_id) : null;
    if (!r) { return; }
    if (typeof ctx.progress === "number") { setProgress(r, ctx.progress); }
    if (ctx.status && ctx.task_type) {
      r.setAttribute("data-status", ctx.status);
      r.querySelector(".status").textContent = ctx.status;
      if (ctx.status === "succeeded") { setProgress(r, 100); }
      if (FINISHED[ctx.status] && live().length === 0) {
        source.close();
        window.setTimeout(function () { window.location.replace(window.location.pathname); }, 1500);
      }
    }
  };
  ["info", "warning", "error", "audit"].forEach(function (level) {
    source.addEventListener(level, source.onmessage);
  });
})();
