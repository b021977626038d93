(function () {
  // Installed first in <head>: every error (uncaught, rejected promise, failed load, console.error) is kept and
  // mirrored to <html data-errors>, so a headless browser's DOM dump shows whether the page rendered cleanly.
  const errors = [];
  const note = (m) => { errors.push(String(m)); document.documentElement.dataset.errors = JSON.stringify(errors); };
  document.documentElement.dataset.errors = '[]';
  window.addEventListener('error', (e) => {
    const src = e.target && (e.target.src || e.target.href);
    note(src ? 'failed to load ' + src : (e.message || e));
  }, true);
  window.addEventListener('unhandledrejection', (e) => note(e.reason));
  const original = console.error.bind(console);
  console.error = (...args) => { note(args.join(' ')); original(...args); };
  window.mmhNoteError = note;
})();
