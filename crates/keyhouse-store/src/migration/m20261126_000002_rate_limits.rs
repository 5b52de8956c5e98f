use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Fixed-window counters for login throttling (docs/threat-model.md row 25), in the
/// database so every instance counts the same attempts.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("rate_limits"))
                .if_not_exists()
                .col(string("bucket").primary_key())
                .col(big_integer("window_start"))
                .col(big_integer("hits"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("rate_limits"))
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
