use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A second factor: an authenticator app's secret on the account (sealed
/// with the master key; `totp_enabled_at` stays NULL until a first code
/// proved the app has it; `totp_last_step` makes each code work once), its
/// recovery codes (keyed hashes, each spent once), and how each session,
/// code and token family was authenticated (`amr`, space-separated) with a
/// session's factor still to come (`pending_factor`: such a session signs
/// in nothing).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let users = || Alias::new("users");
        for col in [
            text_null("totp_secret"),
            big_integer_null("totp_enabled_at"),
            big_integer_null("totp_last_step"),
        ] {
            m.alter_table(Table::alter().table(users()).add_column(col).to_owned())
                .await?;
        }
        for table in ["sessions", "authorization_codes", "token_families"] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .add_column(string("amr").default(""))
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Alias::new("sessions"))
                .add_column(string_null("pending_factor"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("recovery_codes"))
                .col(string("code_hash").primary_key())
                .col(string("user_id"))
                .col(big_integer("created_at"))
                .col(big_integer_null("used_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_recovery_codes_user")
                .table(Alias::new("recovery_codes"))
                .col(Alias::new("user_id"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Alias::new("recovery_codes")).to_owned())
            .await?;
        let drops = [
            ("sessions", "pending_factor"),
            ("sessions", "amr"),
            ("authorization_codes", "amr"),
            ("token_families", "amr"),
            ("users", "totp_last_step"),
            ("users", "totp_enabled_at"),
            ("users", "totp_secret"),
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
