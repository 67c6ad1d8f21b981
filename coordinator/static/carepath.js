// carepath's only script of its own: start DKFDS' components (no inline script: the CSP forbids it).
document.addEventListener("DOMContentLoaded", function () {
  if (window.DKFDS && typeof window.DKFDS.init === "function") {
    window.DKFDS.init();
  }
});
// Content swapped in by htmx gets DKFDS' behaviour too.
document.addEventListener("htmx:afterSwap", function (event) {
  if (window.DKFDS && typeof window.DKFDS.init === "function") {
    window.DKFDS.init({ scope: event.target });
  }
});
