//! Dated migrations. One file per migration: sea-orm takes the name from it.

use sea_orm_migration::prelude::*;

mod m20261126_000001_initial;
mod m20261126_000002_rate_limits;
mod m20261126_000003_organizations;
mod m20261126_000004_admin;
mod m20261130_000005_hardening;
mod m20261130_000006_agents;
mod m20261130_000007_agent_settings;
mod m20261201_000008_account_tokens;
mod m20261201_000009_email_challenges;
mod m20261201_000010_session_devices;
mod m20261201_000011_user_status;
mod m20261201_000012_second_factor;
mod m20261201_000013_logout;
mod m20261202_000014_passkeys;
mod m20261202_000015_member_second_factor;
mod m20261203_000016_id_token_alg;
mod m20261203_000017_housekeeping_leases;
mod m20261203_000018_invitations;
mod m20261204_000019_sso;
mod m20261205_000020_organization_logo;

/// Runs the migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_initial::Migration),
            Box::new(m20261126_000002_rate_limits::Migration),
            Box::new(m20261126_000003_organizations::Migration),
            Box::new(m20261126_000004_admin::Migration),
            Box::new(m20261130_000005_hardening::Migration),
            Box::new(m20261130_000006_agents::Migration),
            Box::new(m20261130_000007_agent_settings::Migration),
            Box::new(m20261201_000008_account_tokens::Migration),
            Box::new(m20261201_000009_email_challenges::Migration),
            Box::new(m20261201_000010_session_devices::Migration),
            Box::new(m20261201_000011_user_status::Migration),
            Box::new(m20261201_000012_second_factor::Migration),
            Box::new(m20261201_000013_logout::Migration),
            Box::new(m20261202_000014_passkeys::Migration),
            Box::new(m20261202_000015_member_second_factor::Migration),
            Box::new(m20261203_000016_id_token_alg::Migration),
            Box::new(m20261203_000017_housekeeping_leases::Migration),
            Box::new(m20261203_000018_invitations::Migration),
            Box::new(m20261204_000019_sso::Migration),
            Box::new(m20261205_000020_organization_logo::Migration),
        ]
    }
}
