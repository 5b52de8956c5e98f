use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The hardening review (docs/threat-model.md rows 41 and on):
/// - `rate_limits.blocked_until`: the per-account login delay grows instead
///   of locking the account for a whole window;
/// - `clients.grant_types`: the grants a client may use, space-separated
///   (`client_credentials` only when asked for);
/// - `clients.resource_server`: clients that may introspect other clients'
///   access tokens;
/// - `clients.token_endpoint_auth_method`: the one method a confidential
///   client authenticates with, once it has used one (pinned).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("rate_limits"))
                .add_column(big_integer("blocked_until").default(0))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .add_column(string("grant_types").default("authorization_code refresh_token"))
                .to_owned(),
        )
        .await?;
        // Confidential first-party clients registered before this keep the
        // client_credentials grant they had; third-party clients lose it.
        m.get_connection()
            .execute_unprepared(
                "UPDATE clients SET grant_types = \
                 'authorization_code refresh_token client_credentials' \
                 WHERE client_type = 'first_party'",
            )
            .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .add_column(boolean("resource_server").default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("clients"))
                .add_column(string_null("token_endpoint_auth_method"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            "grant_types",
            "resource_server",
            "token_endpoint_auth_method",
        ] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("clients"))
                    .drop_column(Alias::new(col))
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Alias::new("rate_limits"))
                .drop_column(Alias::new("blocked_until"))
                .to_owned(),
        )
        .await
    }
}
