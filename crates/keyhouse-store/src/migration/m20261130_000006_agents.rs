use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Agents that onboard themselves:
/// - `clients.origin`: `manual`, `cimd` (Client ID Metadata Document) or
///   `dcr` (dynamic registration);
/// - `clients.default_scopes`: what a request naming no scope gets;
/// - `clients.refresh_grace`: seconds during which a rotated refresh token
///   still returns its successor;
/// - `clients.last_used_at`: the last token issued to it (the purge deletes
///   self-registered clients unused for long);
/// - `clients.registration_token_hash`: RFC 7592's registration access
///   token, hashed;
/// - `clients.metadata_fingerprint`: the hash of a public self-registration's
///   metadata, so identical registrations get the same client;
/// - `refresh_tokens.successor`: the token that replaced it, sealed with the
///   master key, kept only for the grace period;
/// - `blocked_domains`: hosts whose metadata documents the operator refuses
///   (besides the configuration's deny list), changed at run time.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            string("origin").default("manual").to_owned(),
            string("default_scopes").default("").to_owned(),
            big_integer("refresh_grace").default(0).to_owned(),
            big_integer_null("last_used_at"),
            string_null("registration_token_hash"),
            string_null("metadata_fingerprint"),
        ];
        for mut col in columns {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("clients"))
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_clients_metadata_fingerprint")
                .table(Alias::new("clients"))
                .col(Alias::new("metadata_fingerprint"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("blocked_domains"))
                .col(string("domain").primary_key())
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("refresh_tokens"))
                .add_column(text_null("successor"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("blocked_domains"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Alias::new("refresh_tokens"))
                .drop_column(Alias::new("successor"))
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_clients_metadata_fingerprint")
                .table(Alias::new("clients"))
                .to_owned(),
        )
        .await?;
        for col in [
            "origin",
            "default_scopes",
            "refresh_grace",
            "last_used_at",
            "registration_token_hash",
            "metadata_fingerprint",
        ] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("clients"))
                    .drop_column(Alias::new(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
