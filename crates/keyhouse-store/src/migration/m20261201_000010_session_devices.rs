use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What a person needs to recognise a session in their account's list: the
/// browser (`User-Agent`) and address it signed in from, and when it was
/// last used (updated at most every few minutes, not on every request).
/// Sessions made before this have none of them.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        m.alter_table(
            Table::alter()
                .table(Alias::new("sessions"))
                .add_column(text_null("user_agent"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("sessions"))
                .add_column(string_null("ip"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("sessions"))
                .add_column(big_integer_null("last_seen_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in ["last_seen_at", "ip", "user_agent"] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("sessions"))
                    .drop_column(Alias::new(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
