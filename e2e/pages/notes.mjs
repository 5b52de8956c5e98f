// / (the notes page; needs a session)
import { config } from '../lib/env.mjs';
import { isAt, textOf, waitForUrl } from './common.mjs';

export class NotesPage {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.title = page.getByTestId('note-title');
    this.body = page.getByTestId('note-body');
    this.create = page.getByTestId('note-create');
    this.items = page.getByTestId('note-item');
    this.empty = page.getByTestId('notes-empty');
    this.error = page.getByTestId('notes-error');
  }

  async goto() {
    await this.page.goto('/');
    await this.waitReady();
  }

  /** On `/`, the form is rendered and the list has loaded (either items or the empty text). */
  async waitReady() {
    await waitForUrl(this.page, isAt(config.baseUrl, '/'), 'the notes page /');
    await this.create.waitFor({ state: 'visible' });
    await this.items.first().or(this.empty).or(this.error).first().waitFor({ state: 'visible' });
  }

  /** The note's list item, matched by its title text. */
  item(title) {
    return this.items.filter({ hasText: title });
  }

  /** Creates a note through the form and waits until it is listed. */
  async createNote({ title, body = '' }) {
    await this.title.fill(title);
    await this.body.fill(body);
    await this.create.click();
    await this.item(title).first().waitFor({ state: 'visible' });
  }

  /** Deletes the note titled `title` and waits until it is gone. */
  async deleteNote(title) {
    const item = this.item(title).first();
    await item.getByTestId('note-delete').click();
    await item.waitFor({ state: 'detached' });
  }

  async itemTexts() {
    return (await this.items.allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim());
  }

  async errorText() {
    await this.error.waitFor({ state: 'visible' });
    return textOf(this.error);
  }
}
