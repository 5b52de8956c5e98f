use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What operators change about agents at run time, and what `private_key_jwt`
/// needs:
/// - `resources`: protected resources registered through the admin API,
///   besides those the application declares in code;
/// - `settings`: named JSON values that override the configuration (the
///   metadata-document switch and domain lists);
/// - `client_assertions`: the `jti` of every client assertion accepted,
///   hashed with its client id, kept until the assertion expires so it
///   cannot be used twice.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("resources"))
                .col(string("uri").primary_key())
                .col(string("name"))
                .col(string("scopes"))
                .col(string("default_scopes"))
                .col(boolean("accepts_unbound_tokens"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("settings"))
                .col(string("name").primary_key())
                .col(text("value"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("client_assertions"))
                .col(string("key").primary_key())
                .col(big_integer("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_client_assertions_expires_at")
                .table(Alias::new("client_assertions"))
                .col(Alias::new("expires_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["client_assertions", "settings", "resources"] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
