// crmflow dashboard: times in the viewer's time zone, and live run updates over server-sent events (/events).
'use strict';

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

function formatTimes(root) {
  for (const element of root.querySelectorAll('time[datetime]')) {
    const date = new Date(element.getAttribute('datetime'));
    if (Number.isNaN(date.getTime())) continue;
    element.title = element.getAttribute('datetime');
    element.textContent = timeFormat.format(date);
  }
}

/** Parses one server-rendered (already escaped) table row. */
function rowFrom(html) {
  const template = document.createElement('template');
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

/** Opens the stream again after an error, with what the page shows by then. */
function stream(url, onRun, onState) {
  let source;
  const open = () => {
    source = new EventSource(url());
    source.addEventListener('open', () => onState(true));
    source.addEventListener('run', (event) => onRun(JSON.parse(event.data)));
    source.addEventListener('error', () => {
      onState(false);
      source.close();
      setTimeout(open, 3000);
    });
  };
  open();
  window.addEventListener('pagehide', () => source.close());
}

function liveRuns(table) {
  const body = table.tBodies[0];
  const state = document.querySelector('.live-state');
  const rows = () => [...body.querySelectorAll('tr[data-run-id]')];
  const url = () => {
    const after = Math.max(0, ...rows().map((row) => Number(row.dataset.runId)));
    const watch = rows()
      .slice(0, 200)
      .map((row) => `${row.dataset.runId}:${row.dataset.status}:${row.dataset.attempts}`)
      .join(',');
    const query = table.dataset.liveQuery;
    return `/events?${query ? `${query}&` : ''}after=${after}&watch=${encodeURIComponent(watch)}`;
  };
  stream(
    url,
    (run) => {
      const row = rowFrom(run.html);
      formatTimes(row);
      const existing = body.querySelector(`tr[data-run-id="${run.id}"]`);
      if (existing) {
        existing.replaceWith(row);
        return;
      }
      row.classList.add('fresh');
      const newer = rows().find((candidate) => Number(candidate.dataset.runId) < run.id);
      body.insertBefore(row, newer ?? null);
      document.querySelector('p.empty')?.remove();
      while (rows().length > 200) rows().at(-1).remove();
    },
    (on) => state?.classList.toggle('live-on', on),
  );
}

function watchRun(section) {
  const pair = `${section.dataset.runId}:${section.dataset.status}:${section.dataset.attempts}`;
  stream(
    () => `/events?new=0&watch=${encodeURIComponent(pair)}`,
    () => window.location.reload(),
    () => {},
  );
}

document.addEventListener('DOMContentLoaded', () => {
  formatTimes(document);
  const table = document.querySelector('#runs-table');
  if (table && document.body.dataset.live) liveRuns(table);
  const watched = document.querySelector('.run-summary[data-watch]');
  if (watched) watchRun(watched);
});
