//! The operator dashboard (`/admin`): register Connected Apps, see and
//! change them, rotate their secrets, get the values for a custom GPT, find
//! users and disable them or require a new password, read the audit log. Only for users with `is_admin`; the admin API
//! (`/api/admin/...`) checks that again on every call.

mod agents;
mod api;
mod apps;
mod audit;
mod detail;
mod form;
mod gpt;
mod new_app;
mod sign_out;
mod users;
pub(crate) mod widgets;

pub use agents::AgentsPage;
pub use apps::AdminAppsPage;
pub use audit::AuditPage;
pub use detail::AppDetailPage;
pub use new_app::NewAppPage;
pub use users::UsersPage;
