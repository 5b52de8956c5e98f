use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Signing out of clients: what each client registered for it
/// (`post_logout_redirect_uris` as a JSON array, a `backchannel_logout_uri`
/// and whether its logout tokens must name the session), each session's
/// `sid` (NULL for older sessions, whose `sid` is derived from their id),
/// the session each code and token family was issued in, and the logout
/// notices still to deliver (written in the transaction that ends a
/// session, deleted once the client has answered 200).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let clients = || Alias::new("clients");
        for mut col in [
            text("post_logout_redirect_uris").default("[]").take(),
            text_null("backchannel_logout_uri"),
            boolean("backchannel_logout_session_required")
                .default(false)
                .take(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(clients())
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        for table in ["sessions", "authorization_codes", "token_families"] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .add_column(string_null("sid"))
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_token_families_sid")
                .table(Alias::new("token_families"))
                .col(Alias::new("sid"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("logout_notices"))
                .col(string("id").primary_key())
                .col(string("client_id"))
                .col(string("subject_id"))
                .col(string_null("sid"))
                .col(big_integer("created_at"))
                .col(integer("attempts").default(0))
                .col(big_integer("next_attempt_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_logout_notices_due")
                .table(Alias::new("logout_notices"))
                .col(Alias::new("next_attempt_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new("logout_notices")).to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("idx_token_families_sid")
                .table(Alias::new("token_families"))
                .to_owned(),
        )
        .await?;
        let drops = [
            ("token_families", "sid"),
            ("authorization_codes", "sid"),
            ("sessions", "sid"),
            ("clients", "backchannel_logout_session_required"),
            ("clients", "backchannel_logout_uri"),
            ("clients", "post_logout_redirect_uris"),
        ];
        for (table, col) in drops {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .drop_column(Alias::new(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
