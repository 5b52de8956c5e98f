use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Leases on housekeeping work that one instance at a time does (the
/// purge of expired rows): `name` is the work, `holder` the random id of
/// the instance that has it, `expires_at` (unix seconds) when others may
/// take it. The holder renews it while it lives; a dead holder's lease
/// expires (decision 0035).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("housekeeping_leases"))
                .if_not_exists()
                .col(string("name").primary_key())
                .col(string("holder"))
                .col(big_integer("expires_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("housekeeping_leases"))
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
