export { LoginPage } from './login.mjs';
export { SignupPage, signUpThroughUi, signedInOnTwoDevices } from './signup.mjs';
export { NotesPage } from './notes.mjs';
export { AccountPage } from './account.mjs';
export { ConsentPage, APPROVE_SELECTOR } from './consent.mjs';
export { Header } from './header.mjs';
export { isAt, pathAndQuery, textOf, waitForUrl } from './common.mjs';
export { B2BConsentPage, MemberPage, OrgLoginPage, OrgNotesPage, OrgSettingsPage, connectThroughOrgIdp, fetchInPage } from './org.mjs';
export { AdminAppsPage, AppDetailPage, AuditPage, ConnectedAppsPage, GptPanel, NewAppPage } from './admin.mjs';
