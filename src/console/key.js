// The API key dialog: the header's button opens it, and a page whose request was refused (401) opens it to
// ask for the key. The key is kept in this tab's session storage only (api.js).
import { apiKey } from './api.js';

const dialog = document.getElementById('key-dialog');
const form = document.getElementById('key-form');
const keyButton = document.getElementById('key-button');

function showKeyState() {
  keyButton.textContent = apiKey.get() ? 'API key: set' : 'API key: not set';
}

/** Opens the key dialog; resolves when it closes (true when a key was saved). */
export function askForKey() {
  form.reset();
  dialog.showModal();
  form.elements.key.focus();
  return new Promise((resolve) =>
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'saved'), { once: true }),
  );
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = form.elements.key.value.trim();
  if (!key) return;
  apiKey.set(key);
  showKeyState();
  dialog.close('saved');
});
form.addEventListener('click', (event) => {
  const action = event.target.dataset?.action;
  if (action === 'forget') {
    apiKey.clear();
    showKeyState();
    dialog.close('forgotten');
  } else if (action === 'cancel') dialog.close('cancelled');
});
keyButton.addEventListener('click', () => void askForKey());

showKeyState();
