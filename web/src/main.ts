/**
 * The entry point: the sealed store (IndexedDB), the application model and
 * the views, wired to the page (visibility, activity for the idle lock,
 * notifications without content) and the service worker that caches the
 * application's own files.
 */

import { AppModel } from './app/index.js';
import { openVaults } from './store/index.js';
import { AppView, type Notifications } from './ui/index.js';

const notifications: Notifications = {
  permission: () => ('Notification' in globalThis ? Notification.permission : 'unsupported'),
  request: () => ('Notification' in globalThis ? Notification.requestPermission() : Promise.resolve('unsupported')),
};

/** Holds the Web Lock `curbside` while this page lives; false if another tab kept it for 3 s. */
function claimTab(): Promise<boolean> {
  if (!('locks' in navigator)) return Promise.resolve(true);
  return new Promise((resolve) => {
    navigator.locks
      .request('curbside', { signal: AbortSignal.timeout(3000) }, () => {
        resolve(true);
        return new Promise<void>(() => undefined); // released when the page goes
      })
      .catch(() => resolve(false));
  });
}

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (root === null) return;
  const model = new AppModel(await openVaults(), { origin: location.origin, hostname: location.hostname, claimTab });
  new AppView(root, model, notifications);
  model.onNotify = (title, body, tag = 'curbside-new-message') => {
    if (notifications.permission() !== 'granted') return;
    // A message: never the sender or the content, only that something arrived; a referral: the colleague and its priority, never the patient.
    // An open urgent message alerts again at its interval (`renotify`), and stays until dismissed.
    const urgent = tag === 'curbside-urgent';
    const n = new Notification(title, { body, tag, icon: 'icons/icon-192.png', ...(urgent ? { renotify: true, requireInteraction: true } : {}) } as NotificationOptions);
    n.onclick = () => {
      window.focus();
      n.close();
    };
  };
  document.addEventListener('visibilitychange', () => model.setVisible(!document.hidden));
  for (const type of ['pointerdown', 'keydown', 'wheel', 'touchstart']) {
    document.addEventListener(type, () => model.touch(), { passive: true, capture: true });
  }
  model.setVisible(!document.hidden);
  await model.start();
  // Ask that this origin's storage not be evicted under pressure (it holds the account's only keys).
  void navigator.storage?.persist?.().catch(() => false);
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => undefined); // offline start only: the app works without it
  }
}

void main();
