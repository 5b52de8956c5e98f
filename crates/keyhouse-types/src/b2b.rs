//! B2B wire types: organizations, members, RBAC and the organization's
//! Connected Apps settings (`/api/b2b/...`).

use serde::{Deserialize, Serialize};

/// An organization, as pages and tokens name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationSummary {
    /// Stable id (`org-…`).
    pub organization_id: String,
    /// Unique, URL-safe short name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Where Keyhouse serves its logo, on its own origin (a path; absent
    /// when it has none). The path changes with the logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
}

/// A member of one organization. The same email in two organizations is two
/// members with two ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Stable id (`member-…`): the `sub` of its tokens.
    pub member_id: String,
    /// Email address.
    pub email: String,
    /// Display name, may be empty.
    pub name: String,
    /// Role ids (`admin`, `member`, …).
    pub roles: Vec<String>,
    /// `active` or `deactivated`.
    pub status: String,
    /// Whether the member has two-step verification on.
    #[serde(default)]
    pub second_factor: bool,
    /// Whether the member has a password (one who joined with a passkey or
    /// through single sign-on has none, and confirms a change by a recent
    /// sign-in instead).
    #[serde(default = "yes")]
    pub has_password: bool,
}

/// One permission: some actions on one resource (`*` means every action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// The resource, e.g. `notes`.
    pub resource_id: String,
    /// The actions, e.g. `["read", "create"]`, or `["*"]`.
    pub actions: Vec<String>,
}

/// A role of the RBAC policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleInfo {
    /// Id, e.g. `admin`.
    pub role_id: String,
    /// What the role is for.
    pub description: String,
    /// What it allows.
    pub permissions: Vec<Permission>,
}

/// A custom scope: a named set of permissions a member can delegate to an app
/// only if their roles cover all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeInfo {
    /// The scope token, e.g. `notes:write`.
    pub scope: String,
    /// Plain words for the consent screen.
    pub description: String,
    /// The permissions it carries.
    pub permissions: Vec<Permission>,
}

/// `GET /api/b2b/session` and the answer of a member login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSessionResponse {
    /// The member.
    pub member: MemberInfo,
    /// Their organization (a member session is bound to exactly one).
    pub organization: OrganizationSummary,
    /// What the member's roles allow, merged.
    pub permissions: Vec<Permission>,
    /// When the member authenticated (unix seconds).
    pub authenticated_at: i64,
    /// When the session expires (unix seconds).
    pub expires_at: i64,
    /// How the member signed in (RFC 8176 `amr` values: `pwd`, then `otp`
    /// and `mfa` after two-step verification).
    #[serde(default)]
    pub amr: Vec<String>,
    /// Whether the member has two-step verification on.
    #[serde(default)]
    pub second_factor: bool,
    /// What the organization asks of its members' sign-in.
    #[serde(default)]
    pub required_sign_in: RequiredSignIn,
    /// Whether the organization's members sign in only through its single
    /// sign-on (a session opened otherwise, `amr` without `fed`, is
    /// refused everything but signing in again).
    #[serde(default)]
    pub sso_required: bool,
}

/// How an organization's members must have signed in to authorize an app
/// or manage the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RequiredSignIn {
    /// A password is enough; two-step verification is each member's choice.
    #[default]
    OneFactor,
    /// Two-step verification: a member without it is asked to turn it on,
    /// one with it for a code, before anything else (a passkey counts).
    TwoFactors,
    /// A passkey (phishing-resistant): a member is asked to sign in with
    /// one, or to add one first, before anything else.
    Passkey,
}

impl RequiredSignIn {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequiredSignIn::OneFactor => "one_factor",
            RequiredSignIn::TwoFactors => "two_factors",
            RequiredSignIn::Passkey => "passkey",
        }
    }

    /// The value a stored name means (`None` for an unknown one).
    pub fn parse(s: &str) -> Option<RequiredSignIn> {
        match s {
            "one_factor" => Some(RequiredSignIn::OneFactor),
            "two_factors" => Some(RequiredSignIn::TwoFactors),
            "passkey" => Some(RequiredSignIn::Passkey),
            _ => None,
        }
    }
}

/// `PUT /api/b2b/organization/sign-in`: what the organization asks of its
/// members' sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInPolicy {
    /// The requirement.
    pub required_sign_in: RequiredSignIn,
}

/// `POST /api/b2b/session/login`: password login into one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLoginRequest {
    /// The organization's slug.
    pub organization_slug: String,
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /api/b2b/discovery`: which organizations do these credentials open?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// The answer of discovery: the organizations where the email and password
/// (or the mailed link or code) belong to an active member (never empty: no
/// match is a 401 `invalid_credentials`), and a short-lived token to pick
/// one with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryResponse {
    /// The organizations to choose from.
    pub organizations: Vec<OrganizationSummary>,
    /// Proof of the check, valid for 10 minutes, for
    /// `POST /api/b2b/discovery/select`.
    pub discovery_token: String,
    /// The address proven (normalised).
    #[serde(default)]
    pub email: String,
    /// The slugs among `organizations` that the address would join (by its
    /// verified domain) rather than sign in to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joinable: Vec<String>,
    /// Where to go once signed in (a same-origin path), when the mailed
    /// link or code was asked for with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

/// `POST /api/b2b/discovery/email`: mail me a link and a code that open my
/// organizations (or one of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberEmailLoginRequest {
    /// Email address.
    pub email: String,
    /// Only this organization (its sign-in page asked); `None`: every
    /// organization the address is a member of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_slug: Option<String>,
    /// Where the link leads back to afterwards (a same-origin path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

/// `POST /api/b2b/discovery/select`: sign in to one discovered organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoverySelectRequest {
    /// From [`DiscoveryResponse`].
    pub discovery_token: String,
    /// One of the discovered organizations.
    pub organization_slug: String,
}

/// Whether an organization's members may use Connected Apps of one kind
/// (first-party or third-party).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AppAccess {
    /// Any client of this kind.
    #[default]
    AllAllowed,
    /// Only the clients on the allow-list.
    Restricted,
    /// None.
    NotAllowed,
}

/// The policy for one kind of Connected App.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AppAccessPolicy {
    /// Which clients of this kind may be used.
    pub access: AppAccess,
    /// The allow-list, for [`AppAccess::Restricted`].
    #[serde(default)]
    pub allowed_client_ids: Vec<String>,
}

impl AppAccessPolicy {
    /// Whether `client_id` may be used.
    pub fn allows(&self, client_id: &str) -> bool {
        match self.access {
            AppAccess::AllAllowed => true,
            AppAccess::Restricted => self.allowed_client_ids.iter().any(|c| c == client_id),
            AppAccess::NotAllowed => false,
        }
    }
}

/// An organization's Connected Apps settings (as Stytch splits them: one
/// policy for first-party apps, one for third-party apps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConnectedAppsSettings {
    /// First-party apps (`first_party`, `first_party_public`).
    pub first_party: AppAccessPolicy,
    /// Third-party apps (`third_party`, `third_party_public`).
    pub third_party: AppAccessPolicy,
}

impl ConnectedAppsSettings {
    /// Whether a client of this kind and id may be used in the organization.
    pub fn allows(&self, client_id: &str, client_type: crate::ClientType) -> bool {
        if client_type.is_first_party() {
            self.first_party.allows(client_id)
        } else {
            self.third_party.allows(client_id)
        }
    }
}

/// `GET /api/b2b/organization`: what the settings page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationSettings {
    /// The organization.
    pub organization: OrganizationSummary,
    /// Its Connected Apps policy.
    pub connected_apps: ConnectedAppsSettings,
    /// What it asks of its members' sign-in.
    #[serde(default)]
    pub required_sign_in: RequiredSignIn,
    /// The RBAC policy's roles.
    pub roles: Vec<RoleInfo>,
    /// The RBAC policy's custom scopes.
    pub scopes: Vec<ScopeInfo>,
    /// The organization's members.
    pub members: Vec<MemberInfo>,
    /// The https URL its logo is fetched from, as its admins set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
}

/// `PUT /api/b2b/organization/logo`: the https URL of the organization's
/// logo (a PNG, JPEG, GIF or WebP image), or none to remove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationLogo {
    /// The URL; `null` or empty removes the logo.
    #[serde(default)]
    pub logo_uri: Option<String>,
}

/// `PUT /api/b2b/members/{member_id}/roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRolesRequest {
    /// The new roles (each must exist in the policy).
    pub roles: Vec<String>,
}

/// An open invitation, as the organization's admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationInfo {
    /// Stable id (`invite-…`).
    pub invitation_id: String,
    /// The invited address.
    pub email: String,
    /// The roles the member will get.
    pub roles: Vec<String>,
    /// Who invited (`member:<id>` or `cli`).
    pub invited_by: String,
    /// Created (unix seconds).
    pub created_at: i64,
    /// When the current link was mailed.
    pub sent_at: i64,
    /// When the current link stops working.
    pub expires_at: i64,
    /// Whether the link has expired (send it again to renew it).
    pub expired: bool,
}

/// `POST /api/b2b/invitations`: invite an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRequest {
    /// The address to invite.
    pub email: String,
    /// The roles the member will get (each must exist in the policy).
    pub roles: Vec<String>,
}

/// The token of an invitation's link (`POST /api/b2b/invitation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationToken {
    /// The `token` of the link.
    pub token: String,
}

/// What the acceptance page shows before the person accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationPreview {
    /// The organization.
    pub organization: OrganizationSummary,
    /// The invited address (the member's address once accepted).
    pub email: String,
    /// The roles the member will get.
    pub roles: Vec<String>,
    /// When the link stops working.
    pub expires_at: i64,
    /// Whether the address is a member of another organization here
    /// already: its password may be used again, and the two memberships
    /// then share it.
    pub existing_member: bool,
    /// Whether the invitation can be accepted with a passkey instead of a
    /// password (`POST /api/b2b/invitation/passkey/options`).
    #[serde(default)]
    pub passkeys: bool,
}

/// `POST /api/b2b/invitation/accept`: with a password, or with the
/// passkey a ceremony started at `POST /api/b2b/invitation/passkey/options`
/// (for this invitation) created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptInvitationRequest {
    /// The `token` of the link.
    pub token: String,
    /// The member's display name (may be empty).
    #[serde(default)]
    pub name: String,
    /// A new password, or the password of the address's existing
    /// membership elsewhere; empty with `passkey`.
    #[serde(default)]
    pub password: String,
    /// The new passkey instead of a password: the member has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<crate::AddPasskey>,
}

/// `PUT /api/b2b/organization/profile`: the organization's name and slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationProfile {
    /// Display name, 1 to 100 characters.
    pub name: String,
    /// 2 to 40 of `a-z`, `0-9` and `-`.
    pub slug: String,
}

/// `POST /api/b2b/organization/delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOrganizationRequest {
    /// The organization's slug, typed again to confirm.
    pub confirm_slug: String,
}

/// One e-mail domain an organization claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainInfo {
    /// The domain, lower-case.
    pub domain: String,
    /// Whether an operator verified the claim (only verified domains let
    /// people join).
    pub verified: bool,
}

/// `GET /api/b2b/organization/domains`: the domains, and the role of people
/// who join by them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSettings {
    /// The domains claimed.
    pub domains: Vec<DomainInfo>,
    /// The role people with a proven address at a verified domain get
    /// when they join; `None`: nobody joins that way.
    pub jit_role: Option<String>,
}

/// `POST /api/b2b/organization/domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRequest {
    /// The domain, e.g. `example.com`.
    pub domain: String,
}

/// `PUT /api/b2b/organization/jit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JitRequest {
    /// The role of people who join by their address's domain; `None`
    /// turns joining off.
    pub role: Option<String>,
}

/// `POST /api/b2b/session/switch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchRequest {
    /// The organization to switch to.
    pub organization_slug: String,
}

/// What a member's deactivation or removal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingChanged {
    /// Sessions signed out.
    pub sessions: u64,
    /// Apps disconnected (their tokens are refused from the next call).
    pub grants: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientType;

    #[test]
    fn policies() {
        let mut s = ConnectedAppsSettings::default();
        assert!(
            s.allows("c1", ClientType::ThirdParty),
            "all allowed by default"
        );
        s.third_party = AppAccessPolicy {
            access: AppAccess::Restricted,
            allowed_client_ids: vec!["c1".into()],
        };
        assert!(s.allows("c1", ClientType::ThirdPartyPublic));
        assert!(!s.allows("c2", ClientType::ThirdParty));
        assert!(s.allows("c2", ClientType::FirstParty));
        s.first_party.access = AppAccess::NotAllowed;
        assert!(!s.allows("c1", ClientType::FirstPartyPublic));
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert!(
            json.contains("\"restricted\"") && json.contains("\"not_allowed\""),
            "{json}"
        );
    }
}

/// One upstream group and the role it gives (single sign-on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoRoleMapping {
    /// A value of the connection's groups claim.
    pub group: String,
    /// The role members with that value get.
    pub role: String,
}

/// `GET /api/b2b/organization/sso`: the organization's single sign-on
/// through its own OpenID Provider (`connection` is `None` when it has
/// none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSettings {
    /// The connection.
    pub connection: Option<SsoConnectionInfo>,
    /// Whether members sign in only through it.
    pub required: bool,
    /// The redirect URI to register at the provider.
    pub redirect_uri: String,
}

/// A connection as admins see it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConnectionInfo {
    /// The provider's issuer.
    pub issuer: String,
    /// Keyhouse's client id there.
    pub client_id: String,
    /// The ID-token claim whose values map to roles.
    pub groups_claim: String,
    /// Values of that claim to roles; on every sign-in through the
    /// connection, a member's roles become the mapped ones (when any
    /// mapping matches).
    pub role_mappings: Vec<SsoRoleMapping>,
    /// The role of someone who signs in through the provider and is not a
    /// member yet; `None`: only existing members sign in.
    pub provision_role: Option<String>,
    /// When a test of the connection last succeeded (unix seconds).
    pub tested_at: Option<i64>,
}

/// `PUT /api/b2b/organization/sso`: creates or changes the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConnectionRequest {
    /// The provider's issuer (`https://…`).
    pub issuer: String,
    /// Keyhouse's client id there.
    pub client_id: String,
    /// The client secret; `None` keeps the one stored.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The ID-token claim whose values map to roles (default `groups`).
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Values of that claim to roles.
    #[serde(default)]
    pub role_mappings: Vec<SsoRoleMapping>,
    /// The role of people provisioned on their first sign-in; `None`:
    /// nobody is.
    #[serde(default)]
    pub provision_role: Option<String>,
}

/// `PUT /api/b2b/organization/sso/required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoRequiredRequest {
    /// Whether members sign in only through single sign-on.
    pub required: bool,
}

fn yes() -> bool {
    true
}
