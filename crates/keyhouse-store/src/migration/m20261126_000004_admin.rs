use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Operators: an admin flag on users, admin API keys (stored hashed), the
/// audit log of admin and consent events, and per-client audience and claims.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("users"))
                .add_column(boolean("is_admin").default(false))
                .to_owned(),
        )
        .await?;
        // A custom audience and a claims template per client.
        for col in ["audience", "claims_template"] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("clients"))
                    .add_column(text_null(col))
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(Alias::new("admin_api_keys"))
                .if_not_exists()
                .col(string("id").primary_key())
                .col(string("name"))
                .col(string("key_hash").unique_key())
                .col(big_integer("created_at"))
                .col(big_integer_null("revoked_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("audit_events"))
                .if_not_exists()
                .col(big_integer("id").primary_key().auto_increment())
                .col(big_integer("at"))
                .col(string("actor"))
                .col(string("action"))
                .col(string_null("client_id"))
                .col(text("details"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["audit_events", "admin_api_keys"] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        for col in ["audience", "claims_template"] {
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
                .table(Alias::new("users"))
                .drop_column(Alias::new("is_admin"))
                .to_owned(),
        )
        .await
    }
}
