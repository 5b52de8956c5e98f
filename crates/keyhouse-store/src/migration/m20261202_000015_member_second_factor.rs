use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Two-step verification for members of organizations, and an
/// organization's demand for it.
///
/// - `members` gets the authenticator-app columns `users` has (the secret
///   sealed with the master key for that member alone; `totp_enabled_at`
///   NULL until a first code proved the app has it; `totp_last_step` makes
///   each code work once). Their recovery codes live in `recovery_codes`
///   like an account's, under the member id (ids of users and members never
///   collide: `user-…` and `member-…`).
/// - `organizations.required_sign_in`: `one_factor` (a password is enough)
///   or `two_factors` (every member must have used an authenticator app to
///   authorize an app or manage the organization).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            text_null("totp_secret"),
            big_integer_null("totp_enabled_at"),
            big_integer_null("totp_last_step"),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("members"))
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Alias::new("organizations"))
                .add_column(string("required_sign_in").default("one_factor"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let drops = [
            ("organizations", "required_sign_in"),
            ("members", "totp_last_step"),
            ("members", "totp_enabled_at"),
            ("members", "totp_secret"),
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
