// The environment panel (route #/environments/NAME, a drawer over the graph): "why not
// promoted" — the candidate it runs, the newest qualified one, the next one with its versions
// and every blocker — with Approve (when a candidate waits at the approval gate) and Rollback
// (approver token). Refreshed on every poll.

import { get, post, enc } from './api.js';
import { action } from './actions.js';
import { h, setText, replace, show } from './dom.js';
import { versionChip } from './versions.js';
import { waitsForApproval } from './graph.js';

export class EnvironmentPanel {
  constructor(env, index) {
    this.env = env;
    this.index = index;
    this.sig = '';
    this.el = this.render();
  }

  render() {
    const name = this.env.name;
    this.cands = h('div', { class: 'cand-cards' });
    this.blockers = h('ul', { class: 'blockers', testid: `blockers-${name}` });
    this.nothing = h('p', { class: 'ok-note', text: 'Nothing holds this environment back.', hidden: true });

    this.approveBox = h('section', { class: 'approve-box', hidden: true, 'aria-label': 'Approval' });
    this.approveText = h('p', {});
    const comment = h('input', { type: 'text', id: `approve-comment-${name}`, class: 'input', placeholder: 'optional', maxlength: '500' });
    this.approve = h('button', { type: 'button', class: 'btn primary', testid: `approve-${name}`, text: 'Approve' });
    const approveMsg = h('p', { class: 'action-msg', role: 'status', 'aria-live': 'polite', testid: `approve-message-${name}` });
    action(this.approve, approveMsg, {
      reason: `Approving a candidate for ${name} needs a token with role approver.`,
      call: () => {
        const body = { candidate: Number(this.approve.dataset.candidate) };
        if (comment.value.trim()) body.comment = comment.value.trim();
        return post(`/environments/${enc(name)}/approve`, body);
      },
      success: (a) => `Candidate #${a.candidate.id} approved for ${name} by ${a.approved_by}; it deploys with the next scheduling pass.`,
      then: () => this.refresh(),
    });
    this.approveBox.append(h('h3', { text: 'Approval' }), this.approveText, h('label', { for: comment.id, class: 'field' }, 'Comment', comment), h('div', { class: 'actions' }, this.approve));
    this.approveMsg = approveMsg;

    const rollback = h('button', { type: 'button', class: 'btn danger', testid: `rollback-${name}`, text: `Roll back ${name}…` });
    const confirm = h('button', { type: 'button', class: 'btn danger', testid: `rollback-confirm-${name}`, text: 'Yes, roll back', hidden: true });
    const cancel = h('button', { type: 'button', class: 'btn subtle', text: 'Cancel', hidden: true });
    const rollbackMsg = h('p', { class: 'action-msg', role: 'status', 'aria-live': 'polite' });
    const ask = (on) => {
      rollback.hidden = on;
      confirm.hidden = !on;
      cancel.hidden = !on;
      (on ? confirm : rollback).focus();
    };
    rollback.addEventListener('click', () => ask(true));
    cancel.addEventListener('click', () => ask(false));
    action(confirm, rollbackMsg, {
      reason: `Rolling back ${name} needs a token with role approver.`,
      call: () => post(`/environments/${enc(name)}/rollback`),
      success: (r) => `Rolling back to candidate #${r.candidate.id}: ${r.builds.map((b) => `${b.job} #${b.number}`).join(', ') || 'no builds'} queued.`,
      then: () => {
        ask(false);
        this.refresh();
      },
    });
    const rollbackBox = h(
      'section',
      { class: 'rollback-box', 'aria-label': 'Rollback' },
      h('h3', { text: 'Rollback' }),
      h('p', { class: 'muted', text: 'Re-deploys the previous qualified candidate of this environment.' }),
      h('div', { class: 'actions' }, rollback, confirm, cancel),
      rollbackMsg,
    );

    return h(
      'div',
      { class: 'panel-body', testid: `why-panel-${name}` },
      this.approveBox,
      this.approveMsg,
      this.cands,
      h('h3', { text: this.index === 0 ? 'Blockers' : 'Why not promoted?' }),
      this.blockers,
      this.nothing,
      rollbackBox,
    );
  }

  async refresh() {
    const s = await get(`/environments/${enc(this.env.name)}/why`);
    this.apply(s);
  }

  apply(s) {
    const sig = JSON.stringify(s);
    if (sig === this.sig) return;
    this.sig = sig;
    const card = (title, key, c, note) =>
      h(
        'section',
        { class: `cand-card ${key}`, testid: `why-${key}-${this.env.name}`, dataset: c ? { candidate: c.id } : {} },
        h('h3', {}, title, ' ', h('span', { class: 'cand-id', text: c ? `#${c.id}` : '—' })),
        c ? h('div', { class: 'chips' }, c.versions.map(versionChip)) : h('p', { class: 'muted', text: note }),
      );
    replace(
      this.cands,
      card('Runs', 'current', s.current, 'No candidate deployed here yet.'),
      card('Qualified', 'qualified', s.qualified, 'No candidate qualified here yet.'),
      this.index > 0 ? card('Next', 'next', s.next, 'Nothing newer waits upstream.') : null,
    );
    replace(
      this.blockers,
      s.blockers.map((b) => h('li', { class: /waits for approval/.test(b) ? 'approval' : '', text: b })),
    );
    show(this.nothing, s.blockers.length === 0);
    const waits = waitsForApproval(s);
    show(this.approveBox, waits);
    if (waits) {
      this.approve.dataset.candidate = s.next.id;
      setText(this.approve, `Approve candidate #${s.next.id}`);
      setText(this.approveText, `Candidate #${s.next.id} qualified upstream and waits for a person to let it into ${this.env.name}.`);
    }
  }
}
