// Pushgateway status page, with the admin API on: "Delete N matching groups". When the filter
// narrows the list, the button deletes exactly the groups listed: one series selector per
// listed group, naming every grouping label it has with `=` and every other grouping label
// on the page with `=""`, sent to POST api/v1/admin/delete_groups. A dry run first lists what
// would go in a confirmation; only a confirmed delete removes anything.
// No dependencies; status.js owns the filter, the counters and the toast.
(() => {
  'use strict';

  const base = document.body.dataset.base || '.';
  const $ = (id) => document.getElementById(id);
  const list = $('group-list');
  const button = $('delete-matching');
  const dialog = $('confirm-groups');
  if (!list || !button || !dialog) return;

  const rows = () => Array.from(list.children);
  const shownRows = () => rows().filter((row) => !row.hidden);

  // A row's grouping labels as [name, value] pairs, read from its badges
  // (`name=<b>"value"</b>`, the text exactly as the server wrote it).
  function labelsOf(row) {
    return Array.from(row.querySelectorAll('.labels .badge'), (badge) => {
      const name = badge.firstChild.textContent.replace(/=$/, '');
      const quoted = badge.querySelector('b').textContent;
      return [name, quoted.slice(1, -1)];
    });
  }

  // A PromQL string literal.
  const quote = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  // A label name as PromQL writes it: bare when it is a legacy name, else quoted.
  const labelName = (n) => (/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(n) ? n : quote(n));

  // The selector that matches exactly the group of `labels` among groups whose label names
  // are among `allNames`.
  function exactSelector(labels, allNames) {
    const own = new Set(labels.map(([n]) => n));
    const matchers = labels.map(([n, v]) => `${labelName(n)}=${quote(v)}`);
    for (const n of allNames) if (!own.has(n)) matchers.push(`${labelName(n)}=""`);
    return `{${matchers.join(',')}}`;
  }

  // {job="a",instance="i"} for the confirmation.
  const describe = (labels) => `{${Object.entries(labels).map(([n, v]) => `${n}=${quote(v)}`).join(', ')}}`;

  function update() {
    const total = rows().length;
    const shown = shownRows().length;
    const narrowed = shown > 0 && shown < total;
    button.hidden = !narrowed;
    if (narrowed) button.textContent = `Delete ${shown} matching group${shown === 1 ? '' : 's'}`;
  }

  // status.js hides rows as the filter changes and removes deleted ones.
  new MutationObserver(update).observe(list, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['hidden'],
  });
  update();

  function showToast(message, bad) {
    const box = $('toast');
    box.textContent = message;
    box.classList.toggle('bad', bad);
    box.hidden = false;
    setTimeout(() => { box.hidden = true; }, bad ? 8000 : 3000);
  }

  async function call(selectors, dryRun) {
    const form = new URLSearchParams();
    for (const s of selectors) form.append('match[]', s);
    if (dryRun) form.append('dry_run', 'true');
    const response = await fetch(`${base}/api/v1/admin/delete_groups`, { method: 'POST', body: form });
    const answer = await response.json().catch(() => null);
    if (!response.ok || !answer || answer.status !== 'success') {
      throw new Error(answer && answer.error ? answer.error : `HTTP ${response.status}`);
    }
    return answer.data.deleted;
  }

  // Resolves true when the user confirms deleting `groups` (the dry run's list).
  function confirmGroups(groups) {
    const n = groups.length;
    $('confirm-groups-title').textContent = `Delete ${n} matching group${n === 1 ? '' : 's'}?`;
    $('confirm-groups-text').textContent = 'These groups and all their metrics will be deleted:';
    $('confirm-groups-list').replaceChildren(...groups.map((g) => {
      const item = document.createElement('li');
      item.textContent = describe(g.labels);
      return item;
    }));
    $('confirm-groups-ok').textContent = `Delete ${n} group${n === 1 ? '' : 's'}`;
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.showModal();
      $('confirm-groups-cancel').focus();
    });
  }

  // The key of a group's labels, to find its row again.
  const keyOf = (pairs) => JSON.stringify(pairs.slice().sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

  button.addEventListener('click', async () => {
    const shown = shownRows();
    const allNames = new Set();
    for (const row of rows()) for (const [n] of labelsOf(row)) allNames.add(n);
    const selectors = shown.map((row) => exactSelector(labelsOf(row), allNames));
    button.disabled = true;
    try {
      const planned = await call(selectors, true);
      if (!planned.length) {
        showToast('None of these groups exists any more. Reload the page.', true);
        return;
      }
      if (!(await confirmGroups(planned))) return;
      const deleted = await call(selectors, false);
      const gone = new Set(deleted.map((g) => keyOf(Object.entries(g.labels))));
      for (const row of rows()) if (gone.has(keyOf(labelsOf(row)))) row.remove();
      document.dispatchEvent(new Event('groups-removed'));
      showToast(`${deleted.length} group${deleted.length === 1 ? '' : 's'} deleted`, false);
    } catch (error) {
      showToast(`Delete failed: ${error.message}`, true);
    } finally {
      button.disabled = false;
      update();
    }
  });
})();
