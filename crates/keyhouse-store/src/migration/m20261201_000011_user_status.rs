use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What an operator can set on an account: disabled (since when; it signs
/// in nowhere until enabled again) and a password reset required before the
/// password signs in again.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("users"))
                .add_column(big_integer_null("disabled_at"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("users"))
                .add_column(boolean("password_reset_required").default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in ["password_reset_required", "disabled_at"] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("users"))
                    .drop_column(Alias::new(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
