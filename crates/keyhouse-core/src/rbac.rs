//! Role-based access for organizations (B2B): roles carry permissions
//! (actions on resources), custom scopes are named sets of permissions, and
//! a member may delegate a scope to an app only if their roles cover all of
//! its permissions.

use keyhouse_types::b2b::{Permission, RoleInfo, ScopeInfo};

use crate::scope::{EMAIL, OFFLINE_ACCESS, OPENID, PROFILE};

/// The wildcard for "every resource" and "every action".
pub const ANY: &str = "*";

/// Scopes every member may grant: they release the member's own identity,
/// not organization data.
pub const ALWAYS_GRANTABLE: [&str; 4] = [OPENID, PROFILE, EMAIL, OFFLINE_ACCESS];

/// The deployment's RBAC policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// The roles.
    pub roles: Vec<RoleInfo>,
    /// The custom scopes.
    pub scopes: Vec<ScopeInfo>,
}

/// Whether `perms` allow `action` on `resource`.
pub fn allows(perms: &[Permission], resource: &str, action: &str) -> bool {
    perms.iter().any(|p| {
        (p.resource_id == resource || p.resource_id == ANY)
            && p.actions.iter().any(|a| a == action || a == ANY)
    })
}

/// Whether `perms` cover every action of `needed` (a member may give
/// others only roles whose permissions they hold themselves).
pub fn covers(perms: &[Permission], needed: &[Permission]) -> bool {
    needed
        .iter()
        .all(|n| n.actions.iter().all(|a| allows(perms, &n.resource_id, a)))
}

impl Policy {
    /// The permissions of a member holding `roles`, merged per resource.
    /// Unknown role ids grant nothing.
    pub fn permissions_of(&self, roles: &[String]) -> Vec<Permission> {
        let mut merged: Vec<Permission> = Vec::new();
        let held = self.roles.iter().filter(|r| roles.contains(&r.role_id));
        for p in held.flat_map(|r| r.permissions.iter()) {
            match merged.iter_mut().find(|m| m.resource_id == p.resource_id) {
                Some(m) => {
                    for a in &p.actions {
                        if !m.actions.contains(a) {
                            m.actions.push(a.clone());
                        }
                    }
                }
                None => merged.push(p.clone()),
            }
        }
        merged
    }

    /// The custom scope `name`, if defined.
    pub fn scope(&self, name: &str) -> Option<&ScopeInfo> {
        self.scopes.iter().find(|s| s.scope == name)
    }

    /// Whether a member with `perms` may grant `scope`: always for the
    /// identity scopes; for a custom scope only when `perms` cover all its
    /// permissions; never for a scope the policy does not define (an
    /// organization's data is reachable only through defined scopes).
    pub fn grantable(&self, perms: &[Permission], scope: &str) -> bool {
        if ALWAYS_GRANTABLE.contains(&scope) {
            return true;
        }
        self.scope(scope)
            .is_some_and(|s| covers(perms, &s.permissions))
    }

    /// What a token with `scopes` may do for a member with `perms`: the
    /// scopes' permissions, each kept only where the member (still) has it.
    pub fn token_allows(
        &self,
        perms: &[Permission],
        scopes: &crate::ScopeSet,
        resource: &str,
        action: &str,
    ) -> bool {
        allows(perms, resource, action)
            && scopes
                .iter()
                .filter_map(|s| self.scope(s))
                .any(|s| allows(&s.permissions, resource, action))
    }

    /// Whether every role id exists.
    pub fn knows_roles(&self, roles: &[String]) -> bool {
        roles
            .iter()
            .all(|r| self.roles.iter().any(|x| &x.role_id == r))
    }
}

/// Shorthand for a permission.
pub fn permission(resource: &str, actions: &[&str]) -> Permission {
    Permission {
        resource_id: resource.to_owned(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScopeSet;

    fn policy() -> Policy {
        Policy {
            roles: vec![
                RoleInfo {
                    role_id: "admin".into(),
                    description: String::new(),
                    permissions: vec![permission(ANY, &[ANY])],
                },
                RoleInfo {
                    role_id: "member".into(),
                    description: String::new(),
                    permissions: vec![permission("notes", &["read", "create"])],
                },
            ],
            scopes: vec![
                ScopeInfo {
                    scope: "notes:read".into(),
                    description: String::new(),
                    permissions: vec![permission("notes", &["read"])],
                },
                ScopeInfo {
                    scope: "notes:write".into(),
                    description: String::new(),
                    permissions: vec![permission("notes", &["create", "delete"])],
                },
            ],
        }
    }

    #[test]
    fn grantable_by_role() {
        let p = policy();
        let member = p.permissions_of(&["member".into()]);
        let admin = p.permissions_of(&["admin".into()]);
        let nobody = p.permissions_of(&["ghost".into()]);
        let table = [
            (&member, "openid", true),
            (&member, "offline_access", true),
            (&member, "notes:read", true),
            (&member, "notes:write", false), // no delete
            (&member, "undefined:scope", false),
            (&admin, "notes:write", true),
            (&admin, "undefined:scope", false),
            (&nobody, "notes:read", false),
            (&nobody, "email", true),
        ];
        for (perms, scope, ok) in table {
            assert_eq!(p.grantable(perms, scope), ok, "{scope} with {perms:?}");
        }
    }

    #[test]
    fn token_needs_scope_and_role() {
        let p = policy();
        let member = p.permissions_of(&["member".into()]);
        let admin = p.permissions_of(&["admin".into(), "member".into()]);
        let read = ScopeSet::from_tokens(["openid", "notes:read"]);
        let write = ScopeSet::from_tokens(["notes:write"]);
        assert!(p.token_allows(&member, &read, "notes", "read"));
        assert!(
            !p.token_allows(&member, &read, "notes", "create"),
            "scope lacks it"
        );
        assert!(
            !p.token_allows(&member, &write, "notes", "delete"),
            "role lacks it"
        );
        assert!(p.token_allows(&admin, &write, "notes", "delete"));
        assert!(p.knows_roles(&["admin".into()]) && !p.knows_roles(&["root".into()]));
    }
}
