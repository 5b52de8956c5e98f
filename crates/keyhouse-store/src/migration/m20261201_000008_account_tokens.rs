use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Single-use tokens mailed to an account holder (a password-reset link),
/// stored by the SHA-256 of the token, never the token itself. `used_at`
/// spends one; a spent or expired row stays until the purge so a second
/// use finds it spent, not unknown.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("account_tokens"))
                .col(string("token_hash").primary_key())
                .col(string("purpose"))
                .col(string("user_id"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("used_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_account_tokens_user")
                .table(Alias::new("account_tokens"))
                .col(Alias::new("user_id"))
                .col(Alias::new("purpose"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_account_tokens_expires_at")
                .table(Alias::new("account_tokens"))
                .col(Alias::new("expires_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new("account_tokens")).to_owned())
            .await
    }
}
