use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `organizations.logo_uri`: the https URL of the organization's logo, set
/// by its admins. Keyhouse fetches it through its guarded fetcher and
/// serves it from its own origin, as it does the Connected Apps' logos.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("organizations"))
                .add_column(text_null("logo_uri"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("organizations"))
                .drop_column(Alias::new("logo_uri"))
                .to_owned(),
        )
        .await
    }
}
