use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Challenges mailed to an address to prove its holder reads it: a sign-up
/// waiting for its address to be verified (the password hash and name wait
/// in `payload`), a passwordless sign-in, or a signed-in user's
/// verification. Each carries a link token (stored as its SHA-256, the
/// key) and a short code (stored as a hash salted with the key), a count of
/// wrong codes, and the hash of a cookie of the browser that asked, when it
/// is bound to one.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("email_challenges"))
                .col(string("id_hash").primary_key())
                .col(string("purpose"))
                .col(string("email"))
                .col(string_null("user_id"))
                .col(string("code_hash"))
                .col(string_null("browser_hash"))
                .col(text_null("payload"))
                .col(integer("attempts"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .col(big_integer_null("used_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_email_challenges_email")
                .table(Alias::new("email_challenges"))
                .col(Alias::new("email"))
                .col(Alias::new("purpose"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_email_challenges_expires_at")
                .table(Alias::new("email_challenges"))
                .col(Alias::new("expires_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("email_challenges"))
                .to_owned(),
        )
        .await
    }
}
