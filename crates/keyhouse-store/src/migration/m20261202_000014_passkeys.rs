use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Passkeys (WebAuthn credentials) on accounts, and the ceremonies in
/// flight.
///
/// - `passkeys`: one row per credential, keyed by its credential id
///   (base64url; unique across accounts, so one authenticator's credential
///   can never be claimed by a second account); `user_handle` is the
///   account's WebAuthn user id, the same on all its rows; `credential` is
///   the public key and signature counter as the WebAuthn library stores
///   them (JSON).
/// - `webauthn_ceremonies`: the server half of a registration or sign-in
///   started and not finished (challenge, policy), keyed by the hash of the
///   id the browser holds; taken (deleted) by the request that finishes it,
///   so each is used once.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("passkeys"))
                .col(string("credential_id").primary_key())
                .col(string("user_id"))
                .col(string("user_handle"))
                .col(string("name"))
                .col(text("credential"))
                .col(big_integer("created_at"))
                .col(big_integer_null("last_used_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_passkeys_user")
                .table(Alias::new("passkeys"))
                .col(Alias::new("user_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("webauthn_ceremonies"))
                .col(string("id_hash").primary_key())
                .col(string("kind"))
                .col(string_null("user_id"))
                .col(text("state"))
                .col(big_integer("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webauthn_ceremonies_expiry")
                .table(Alias::new("webauthn_ceremonies"))
                .col(Alias::new("expires_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webauthn_ceremonies", "passkeys"] {
            m.drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
