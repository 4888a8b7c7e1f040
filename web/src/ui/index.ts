/**
 * The views: DOM only, importing only from `../app/` (test/purity.test.ts
 * checks it). Text is always set as text (never innerHTML).
 *
 * - `app-view.ts`: the root, switching screens.
 * - `enroll-view.ts`, `unlock-view.ts`, `fields.ts`: the enrollment and unlock forms.
 * - `main-view.ts`: header, panes, settings; `conversation-list.ts`: search and conversations.
 * - `conversation-view.ts`, `message-list.ts`, `composer.ts`: the open conversation.
 * - `team-view.ts`, `team-members.ts`, `team-dialog.ts`, `team-picker.ts`: a care team's conversation, its members panel, New team, choosing clinicians by name.
 * - `safety-view.ts`, `qr.ts`: the safety number and its QR code; `dialogs.ts`: modal dialogs.
 * - `devices-view.ts`: the Devices screen (linked devices); `locked-out-view.ts`: this device was revoked.
 * - `admin-view.ts`: the Admin screen (administrators only): invites as link and QR, users and their actions.
 * - `dom.ts`, `format.ts`: safe DOM building, times and sizes.
 */

export { AppView, type Notifications } from './app-view.js';
